/** Every command, registered explicitly. Each file declares options cheaply and imports its work lazily. */
import type { CommandSpec } from './command.js';
import { mediaCommand } from './media.js';

export const commands: CommandSpec[] = [mediaCommand];
