/**
 * QMP, in src/qemu/qmp/: client.ts (the protocol client over the unix socket) and commands.ts (the
 * typed commands). This module only re-exports them for code written against the old path; import
 * from qemu/qmp/ in new code.
 */
export * from './qmp/client.js';
export * from './qmp/commands.js';
