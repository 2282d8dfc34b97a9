/** install-guest's version: what `--version` prints and what exported documents and batch state record. A leaf module. */
export const VERSION = '0.1.0';
