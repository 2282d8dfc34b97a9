/** What the cloud-init stages write into the install state (src/pipeline/state.ts). */
import type { CloudInitOptions } from './options.js';

export interface CloudInitState {
  /** validate-request: the parsed sub-options */
  options: CloudInitOptions;
  /** render-cloud-init: this run's instance-id (fresh every run) */
  instanceId?: string;
  /** the private seed directory (user-data, meta-data, network-config) */
  seedDir?: string;
  /** seed=iso: the cidata volume, attached as cdrom `cidata` to the first boot only */
  seedIso?: string;
  /** seed=smbios: the `-smbios type=1,serial=…` value of the first boot */
  smbiosSerial?: string;
  /** seed=smbios: the HTTP server of the seed directory, closed in cleanup */
  servedSeed?: { close(): Promise<void> };
  /** the user-data with passwords replaced, in the log dir */
  userDataRedacted?: string;
  /** reboot-and-confirm: cloud-init's final message, when it came (ms into the boot), and whether the seed was ejected then */
  finished?: { line: string; ms: number; detached: boolean };
  /** the files on the seed */
  files?: string[];
}
