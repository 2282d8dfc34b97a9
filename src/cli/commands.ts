/** Every command, registered explicitly. Each file declares options cheaply and imports its work lazily. */
import type { CommandSpec } from './command.js';
import { installCommand } from './install.js';
import { kickstartCommand } from './kickstart.js';

export const commands: CommandSpec[] = [installCommand, kickstartCommand];
