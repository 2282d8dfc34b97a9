/** qemu's option syntax: `key=value,key=value`; a literal comma inside a value is written `,,`. */
export function escapeOptionValue(value: string | number): string {
  const s = String(value);
  if (/[\n\r\0]/.test(s))
    throw new Error(`qemu option value contains a newline or NUL: ${JSON.stringify(s)}`);
  return s.replace(/,/g, ',,');
}
