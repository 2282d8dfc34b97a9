/**
 * The console watcher, in src/qemu/console/: rules.ts (rule packs compiled), terminal-text.ts (the
 * VT100 normaliser: bytes → lines), matcher.ts (the pure matching core), watcher.ts (the live
 * watcher on a stream). This module only re-exports them for code written against the old path;
 * import from qemu/console/ in new code.
 */
export * from './console/rules.js';
export * from './console/terminal-text.js';
export * from './console/matcher.js';
export * from './console/watcher.js';
