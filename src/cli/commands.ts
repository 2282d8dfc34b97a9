/** Every command, registered explicitly. Each file declares options cheaply and imports its work lazily. */
import type { CommandSpec } from './command.js';
import { hostdevPrepareCommand } from './hostdev-prepare.js';
import { installCommand } from './install.js';
import { recoverCommand } from './recover.js';

export const commands: CommandSpec[] = [installCommand, hostdevPrepareCommand, recoverCommand];
