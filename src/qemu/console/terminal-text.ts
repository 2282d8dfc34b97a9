/**
 * Terminal text: the serial byte stream → lines. Installer screens are drawn with cursor addressing
 * and hardly any newlines, so the stream is normalised: ANSI/VT100 escape sequences are removed,
 * `\r`, `\n` and cursor moves to another row end a line, DEC line-drawing and Unicode box characters
 * become spaces, backspace deletes. The state machine runs on bytes and keeps its state between
 * chunks, so an escape sequence, a UTF-8 character or a line split across chunks is handled like one
 * in a chunk. The unfinished line is the bounded tail (at most `maxLineChars`).
 */

export interface ConsoleLine {
  /** the normalised text, trailing spaces removed */
  text: string;
  /** byte offset in the stream (= in the serial log) of the line's first visible character */
  offset: number;
}

type TermState = 'text' | 'esc' | 'csi' | 'osc' | 'str' | 'charset' | 'escInter';

/** CSI final bytes that move the cursor to another row or clear the screen: a line ends there. */
const CSI_BREAK = new Set(['H', 'f', 'd', 'A', 'B', 'E', 'F', 'J']);
/** CSI final bytes that move the cursor along the row: a word ends there. */
const CSI_SPACE = new Set(['C', 'G', '`']);

export class TerminalText {
  private state: TermState = 'text';
  private seqLen = 0;
  private strEsc = false;
  private charsetSlot = 0;
  private readonly graphics: [boolean, boolean] = [false, false];
  private shifted = false;
  private utf8Need = 0;
  private utf8Cp = 0;
  private utf8Start = 0;
  private line = '';
  private lineOffset = -1;
  private offset = 0;
  private out: ConsoleLine[] = [];

  constructor(private readonly maxLineChars = 4096) {}

  /** bytes seen so far */
  get position(): number {
    return this.offset;
  }

  push(chunk: Uint8Array): ConsoleLine[] {
    this.out = [];
    for (let i = 0; i < chunk.length; i++) {
      this.byte(chunk[i] as number);
      this.offset++;
    }
    return this.out;
  }

  /** the unfinished line, when it has any text */
  partial(): ConsoleLine | null {
    const text = this.line.trimEnd();
    return text.trim() === '' ? null : { text, offset: this.lineOffset };
  }

  /** ends the unfinished line (end of stream) */
  flush(): ConsoleLine[] {
    this.out = [];
    if (this.utf8Need > 0) this.put(0xfffd, this.utf8Start);
    this.utf8Need = 0;
    this.lineBreak();
    return this.out;
  }

  private lineBreak(): void {
    const text = this.line.trimEnd();
    if (text.trim() !== '') this.out.push({ text, offset: this.lineOffset });
    this.line = '';
    this.lineOffset = -1;
  }

  private put(cp: number, at: number): void {
    let ch: string;
    const g = this.graphics[this.shifted ? 1 : 0];
    if (g && cp >= 0x5f && cp <= 0x7e) ch = ' ';
    else if (cp >= 0x2500 && cp <= 0x259f) ch = ' ';
    else ch = String.fromCodePoint(cp);
    // the line's offset is its first visible character (leading spaces and boxes are layout)
    if (this.lineOffset < 0 && ch !== ' ') this.lineOffset = at;
    this.line += ch;
    if (this.line.length >= this.maxLineChars) this.lineBreak();
  }

  private byte(b: number): void {
    switch (this.state) {
      case 'text':
        return this.textByte(b);
      case 'esc':
        return this.escByte(b);
      case 'csi':
        if (b >= 0x40 && b <= 0x7e) {
          this.state = 'text';
          const f = String.fromCharCode(b);
          if (CSI_BREAK.has(f)) this.lineBreak();
          else if (CSI_SPACE.has(f)) this.put(0x20, this.offset);
        } else if (++this.seqLen > 64 || b < 0x20) {
          this.state = 'text';
        }
        return;
      case 'osc':
      case 'str':
        if (b === 0x07) {
          this.state = 'text';
        } else if (this.strEsc) {
          this.strEsc = false;
          this.state = 'text';
          if (b !== 0x5c) this.byte(b);
        } else if (b === 0x1b) {
          this.strEsc = true;
        } else if (++this.seqLen > 4096) {
          this.state = 'text';
        }
        return;
      case 'charset':
        this.graphics[this.charsetSlot] = b === 0x30; // '0' = DEC special graphics (line drawing)
        this.state = 'text';
        return;
      case 'escInter':
        this.state = 'text';
        return;
    }
  }

  private escByte(b: number): void {
    this.state = 'text';
    this.seqLen = 0;
    switch (b) {
      case 0x5b: // [
        this.state = 'csi';
        return;
      case 0x5d: // ]
        this.state = 'osc';
        this.strEsc = false;
        return;
      case 0x50: // P  DCS
      case 0x58: // X  SOS
      case 0x5e: // ^  PM
      case 0x5f: // _  APC
        this.state = 'str';
        this.strEsc = false;
        return;
      case 0x28: // ( designates G0
      case 0x29: // ) designates G1
        this.charsetSlot = b === 0x29 ? 1 : 0;
        this.state = 'charset';
        return;
      case 0x2a: // * and + designate G2/G3, which installers do not use: skip the designator
      case 0x2b:
      case 0x23: // #
      case 0x25: // %
      case 0x20:
        this.state = 'escInter';
        return;
      case 0x63: // c  full reset
      case 0x44: // D  index
      case 0x45: // E  next line
      case 0x4d: // M  reverse index
        this.lineBreak();
        return;
      case 0x1b:
        this.state = 'esc';
        return;
      default:
        return; // 7, 8, =, > and the like: no text
    }
  }

  private textByte(b: number): void {
    if (this.utf8Need > 0) {
      if ((b & 0xc0) === 0x80) {
        this.utf8Cp = (this.utf8Cp << 6) | (b & 0x3f);
        if (--this.utf8Need === 0) this.put(this.utf8Cp, this.utf8Start);
        return;
      }
      this.utf8Need = 0;
      this.put(0xfffd, this.utf8Start);
    }
    if (b >= 0x80) {
      this.utf8Start = this.offset;
      if (b >= 0xc2 && b <= 0xdf) {
        this.utf8Need = 1;
        this.utf8Cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        this.utf8Need = 2;
        this.utf8Cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.utf8Need = 3;
        this.utf8Cp = b & 0x07;
      } else {
        this.put(0xfffd, this.offset);
      }
      return;
    }
    switch (b) {
      case 0x1b:
        this.state = 'esc';
        return;
      case 0x0a:
      case 0x0b:
      case 0x0c:
      case 0x0d:
        this.lineBreak();
        return;
      case 0x08:
        this.line = this.line.slice(0, -1);
        if (this.line.trim() === '') this.lineOffset = -1;
        return;
      case 0x09:
        this.put(0x20, this.offset);
        return;
      case 0x0e:
        this.shifted = true;
        return;
      case 0x0f:
        this.shifted = false;
        return;
      default:
        if (b >= 0x20 && b !== 0x7f) this.put(b, this.offset);
    }
  }
}
