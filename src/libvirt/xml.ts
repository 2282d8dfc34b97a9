/**
 * A small reader for the XML libvirt prints (nodedev-dumpxml, dumpxml, pool and volume XML): elements,
 * attributes, text and the five predefined entities plus numeric references. libvirt's output is
 * machine-written, namespace-free where we read it, and has no DTD; anything else (a DOCTYPE, an
 * unclosed tag) is rejected rather than guessed at. Pure.
 */
import { hostError } from '../errors.js';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** the element's own text (concatenated, not trimmed) */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e: string) => {
    if (e.startsWith('#x') || e.startsWith('#X')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw bad(`unknown entity ${whole}`);
    return v;
  });
}

function bad(why: string): Error {
  return hostError('LIBVIRT_BAD_XML', `libvirt returned XML install-guest cannot read: ${why}`, {
    hint: 'report this with the output of the virsh command named above',
  });
}

const ATTR = /\s*([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;

/** Parses one document; returns its root element. */
export function parseXml(text: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) {
      top.text += decode(text.slice(i));
      break;
    }
    if (lt > i) top.text += decode(text.slice(i, lt));
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) throw bad('unterminated comment');
      i = end + 3;
    } else if (text.startsWith('<?', lt)) {
      const end = text.indexOf('?>', lt + 2);
      if (end < 0) throw bad('unterminated processing instruction');
      i = end + 2;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt + 9);
      if (end < 0) throw bad('unterminated CDATA');
      top.text += text.slice(lt + 9, end);
      i = end + 3;
    } else if (text.startsWith('<!', lt)) {
      throw bad('a DOCTYPE or declaration');
    } else if (text.startsWith('</', lt)) {
      const end = text.indexOf('>', lt);
      const name = text.slice(lt + 2, end).trim();
      if (end < 0 || stack.length < 2 || top.name !== name) throw bad(`unexpected </${name}>`);
      stack.pop();
      i = end + 1;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(text.slice(lt, lt + 200));
      if (!m) throw bad(`a stray '<' at offset ${lt}`);
      const el: XmlElement = { name: m[1]!, attrs: {}, children: [], text: '' };
      let j = lt + m[0].length;
      for (;;) {
        ATTR.lastIndex = j;
        const a = ATTR.exec(text);
        if (!a) break;
        el.attrs[a[1]!] = decode(a[2] ?? a[3] ?? '');
        j = ATTR.lastIndex;
      }
      while (j < text.length && /\s/.test(text[j]!)) j++;
      top.children.push(el);
      if (text.startsWith('/>', j)) i = j + 2;
      else if (text[j] === '>') {
        stack.push(el);
        i = j + 1;
      } else throw bad(`malformed tag <${el.name}> at offset ${lt}`);
    }
  }
  if (stack.length !== 1) throw bad(`<${stack[stack.length - 1]!.name}> is not closed`);
  const el = root.children[0];
  if (!el || root.children.length !== 1) throw bad('not exactly one root element');
  return el;
}

/** The first child named `name`, following a path of names (`child(e, 'capability', 'iommuGroup')`). */
export function child(e: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let cur = e;
  for (const n of names) cur = cur?.children.find((c) => c.name === n);
  return cur;
}

/** Every child named `name`. */
export function children(e: XmlElement | undefined, name: string): XmlElement[] {
  return e ? e.children.filter((c) => c.name === name) : [];
}

/** The trimmed text of the child at the path, or undefined. */
export function textOf(e: XmlElement | undefined, ...names: string[]): string | undefined {
  const c = child(e, ...names);
  return c ? c.text.trim() : undefined;
}
