import { expect } from 'chai';
import { execa } from 'execa';
import { ConfigParseError, parseConfig } from '../../../src/media/configparser.js';

// Each case is compared with Python's own configparser (the oracle), run on the same text.
const CASES: Record<string, string> = {
  'dotted section names stay flat':
    '[tree.addons]\nkey = v\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\n',
  'semicolons inside values are text': '[general]\nname = a ; b # c\n; a comment\n# another\nx=1\n',
  'colon and equals delimiters, first one wins': '[s]\na: b = c\nd = e: f\nurl = http://x/y\n',
  'booleans stay strings': '[s]\nflag = false\nother = TRUE\nn = 0\n',
  'continuation lines and blank lines inside a value': '[s]\nkey = first\n  second\n\n  third\n\nnext = 1\n',
  'interpolation syntax is kept verbatim': '[s]\nv = %(other)s and 100%%\n',
  'indented comments do not end or join values': '[s]\nkey = a\n  ; not part\n  b\n',
  'keys are case-insensitive, lower-cased': '[S]\nKernel = x\nMiXeD = y\n',
  'DEFAULT supplies fallbacks': '[DEFAULT]\narch = x86_64\n[a]\nname = A\n[b]\narch = aarch64\n',
  'CRLF line ends and a BOM-free file': '[s]\r\nk = v\r\n\r\n[t]\r\nz = 1\r\n',
  'empty values': '[s]\nempty =\nspaces =    \n',
  'whitespace around keys and values': '[s]\n   key   =   value with  spaces   \n',
};

// One python run parses every case (stdin: a JSON list of texts; stdout: one result per text).
const ERRORS: [string, string, RegExp][] = [
  ['a key before any section', 'key = v\n', /line 1: a key before any \[section\]/],
  ['a duplicate section', '[a]\nx=1\n[a]\ny=2\n', /line 3: duplicate section \[a\]/],
  ['a duplicate key', '[a]\nx=1\nX=2\n', /line 3: duplicate key "x"/],
  ['a line without a delimiter', '[a]\njust words\n', /line 2: expected "key = value"/],
];

const PY = `
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    cp = configparser.RawConfigParser()
    try:
        cp.read_string(text)
        out.append({"sections": cp.sections(), "values": {s: dict(cp.items(s)) for s in cp.sections()}})
    except configparser.Error as e:
        out.append({"error": type(e).__name__})
print(json.dumps(out))
`;

type PyResult = { sections: string[]; values: Record<string, Record<string, string>> } | { error: string };

describe('media/configparser', () => {
  const python = new Map<string, PyResult>();
  before(async () => {
    const texts = [...Object.values(CASES), ...ERRORS.map((e) => e[1])];
    const py = await execa('python3', ['-c', PY], { input: JSON.stringify(texts) });
    (JSON.parse(py.stdout) as PyResult[]).forEach((r, i) => python.set(texts[i]!, r));
  });

  for (const [name, text] of Object.entries(CASES)) {
    it(`matches Python's configparser: ${name}`, () => {
      const want = python.get(text)!;
      if ('error' in want) expect.fail(`python rejected the case: ${want.error}`);
      const cfg = parseConfig(text);
      expect(cfg.sections()).to.deep.equal(want.sections);
      const got: Record<string, Record<string, string>> = {};
      for (const s of cfg.sections()) got[s] = cfg.section(s);
      expect(got).to.deep.equal(want.values);
    });
  }

  it('looks keys up ignoring case, and preserves their case on request (productmd)', () => {
    const cfg = parseConfig('[checksums]\nImages/PXEboot/vmlinuz = sha256:00\n', { keyCase: 'preserve' });
    expect(cfg.keys('checksums')).to.deep.equal(['Images/PXEboot/vmlinuz']);
    expect(cfg.get('checksums', 'images/pxeboot/VMLINUZ')).to.equal('sha256:00');
    expect(parseConfig('[s]\nKey = 1\n').keys('s')).to.deep.equal(['key']);
  });

  for (const [name, text, re] of ERRORS) {
    it(`rejects ${name} like Python does`, () => {
      expect(python.get(text), 'python rejects it too').to.have.property('error');
      expect(() => parseConfig(text)).to.throw(ConfigParseError, re);
    });
  }
});
