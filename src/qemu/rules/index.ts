/**
 * The rule packs, one per installer family. Which pack an install uses follows from its media
 * (anaconda for .treeinfo trees, debian-installer for Debian/Ubuntu netboot trees); generic-linux
 * always comes after the family's own pack.
 */
import { anaconda } from './anaconda.js';
import { debianInstaller } from './debian-installer.js';
import { genericLinux } from './generic-linux.js';
import type { InstallerFamily, RulePack } from './types.js';

export type { CollectSpec, ConsoleRule, InstallerFamily, RuleKind, RulePack } from './types.js';

export const RULE_PACKS: Readonly<Record<InstallerFamily, RulePack>> = {
  anaconda,
  'debian-installer': debianInstaller,
  'generic-linux': genericLinux,
};

export const INSTALLER_FAMILIES: readonly InstallerFamily[] = [
  'anaconda',
  'debian-installer',
  'generic-linux',
];
