/**
 * SHA-512-crypt (`$6$`), written from Ulrich Drepper's specification "Unix crypt using SHA-256 and
 * SHA-512" so passwords are hashed here, in TypeScript, and never handed to another program on its
 * argv. Verified against the specification's test vectors and `openssl passwd -6`.
 */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;
const SALT_MAX = 16;

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `len` bytes made of `digest` repeated (the specification's steps 9/10, 16 and 20). */
function repeatTo(digest: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += digest.length) digest.copy(out, i, 0, Math.min(digest.length, len - i));
  return out;
}

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < n; i++) {
    s += ALPHABET[w & 0x3f];
    w >>>= 6;
  }
  return s;
}

/** The specification's byte order for the 64-byte final digest. */
const ORDER: readonly [number, number, number][] = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];

/**
 * Hashes `password` with `setting`, a `$6$[rounds=N$]salt[$…]` prefix (as `crypt(3)` takes it).
 * Salts longer than 16 characters are cut; rounds are clamped to 1000…999999999 as the
 * specification says. `rounds=` appears in the result only when the setting named it.
 */
export function sha512Crypt(password: string | Buffer, setting: string): string {
  const m = /^\$6\$(?:rounds=(\d+)\$)?([^$]*)/.exec(setting);
  if (!m) throw new Error('sha512Crypt: the setting must start with $6$');
  const explicitRounds = m[1] !== undefined;
  const rounds = explicitRounds
    ? Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Number.parseInt(m[1]!, 10)))
    : ROUNDS_DEFAULT;
  const saltStr = (m[2] ?? '').slice(0, SALT_MAX);
  const key = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  const salt = Buffer.from(saltStr, 'utf8');

  // B = sha512(key salt key)
  const b = sha512(key, salt, key);
  // A = sha512(key salt B-repeated-to-len(key) then bits of len(key))
  const aParts: Buffer[] = [key, salt, repeatTo(b, key.length)];
  for (let n = key.length; n > 0; n >>= 1) aParts.push(n & 1 ? b : key);
  const a = sha512(...aParts);
  // P: sha512 of key repeated len(key) times, stretched to len(key)
  const dp = sha512(...Array<Buffer>(key.length).fill(key));
  const p = repeatTo(dp, key.length);
  // S: sha512 of salt repeated 16 + A[0] times, stretched to len(salt)
  const ds = sha512(...Array<Buffer>(16 + a[0]!).fill(salt));
  const s = repeatTo(ds, salt.length);

  let c = a;
  for (let i = 0; i < rounds; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? p : c);
    if (i % 3) h.update(s);
    if (i % 7) h.update(p);
    h.update(i & 1 ? c : p);
    c = h.digest();
  }

  let out = '';
  for (const [x, y, z] of ORDER) out += b64From24(c[x]!, c[y]!, c[z]!, 4);
  out += b64From24(0, 0, c[63]!, 2);
  return `$6$${explicitRounds ? `rounds=${rounds}$` : ''}${saltStr}$${out}`;
}

/** 16 salt characters from the crypt alphabet, made from `bytes` (≥ 12 random bytes). */
export function saltFromBytes(bytes: Buffer): string {
  if (bytes.length < 12) throw new Error('saltFromBytes: need at least 12 bytes');
  let s = '';
  for (let i = 0; i < 12; i += 3) s += b64From24(bytes[i]!, bytes[i + 1]!, bytes[i + 2]!, 4);
  return s;
}

/** A fresh `$6$` hash of `password` with a random (or given) 16-character salt. */
export function hashPassword(password: string, salt = saltFromBytes(randomBytes(12))): string {
  return sha512Crypt(password, `$6$${salt}`);
}

/** True when `value` looks like a crypt(3) hash anaconda and d-i accept (`$1$`, `$5$`, `$6$`, `$y$`, `$2b$`…). */
export function isCryptHash(value: string): boolean {
  return /^\$(1|5|6|y|gy|2[abxy]|7)\$[^\s:]+$/.test(value);
}
