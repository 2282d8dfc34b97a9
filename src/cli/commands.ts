/** Every command, registered explicitly. Each file declares options cheaply and imports its work lazily. */
import type { CommandSpec } from './command.js';
import { doctorCommand } from './doctor.js';
import { hostdevCommand } from './hostdev.js';

export const commands: CommandSpec[] = [hostdevCommand, doctorCommand];
