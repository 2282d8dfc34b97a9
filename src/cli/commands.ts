/** Every command, registered explicitly. Each file declares options cheaply and imports its work lazily. */
import { baseCommand } from './base.js';
import { batchCommand } from './batch.js';
import type { CommandSpec } from './command.js';
import { doctorCommand } from './doctor.js';
import { hostdevCommand } from './hostdev.js';
import { installCommand } from './install.js';
import { kickstartCommand } from './kickstart.js';
import { mediaCommand } from './media.js';
import { provisionCommand } from './provision.js';
import { recoverCommand } from './recover.js';

export const commands: CommandSpec[] = [
  installCommand,
  hostdevCommand,
  doctorCommand,
  recoverCommand,
  batchCommand,
  provisionCommand,
  baseCommand,
  mediaCommand,
  kickstartCommand,
];
