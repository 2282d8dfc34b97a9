/**
 * `install-guest doctor [--memory SIZE] [--json]`: can this host assign devices to a guest? PASS,
 * WARN or FAIL per check, each with a hint; exit 3 when any check fails.
 */
import type { Argv } from 'yargs';
import type { CommandSpec } from './command.js';
import { connectOption, connectionOf } from './connect.js';

export const doctorCommand: CommandSpec = {
  command: 'doctor',
  describe: 'check that this host can run KVM guests with assigned PCI devices',
  builder: (y: Argv) =>
    connectOption(y)
      .option('memory', {
        type: 'string',
        default: '2048',
        describe: 'guest memory to check against (MiB, or 512M, 4G): an assigned device pins all of it',
      })
      .option('qemu-binary', {
        type: 'string',
        default: 'qemu-system-x86_64',
        describe: 'the qemu program to probe',
      }),
  async run(args, ctx) {
    const doctor = await import('../pci/doctor.js');
    const conn = await connectionOf(args, ctx);
    if (conn) {
      // a libvirt host: what install-guest needs from it, asked through the connection
      const lv = await import('../libvirt/doctor.js');
      const facts = await lv.gatherLibvirtDoctorFacts(conn, ctx.host);
      const checks = lv.evaluateLibvirtDoctor(facts);
      const code = doctor.doctorExitCode(checks);
      if (ctx.json) ctx.printJson({ ok: code === 0, checks, facts });
      else for (const line of doctor.doctorText(checks)) ctx.print(line);
      return code;
    }
    const guestMemoryMiB = doctor.parseMemorySize(String(args.memory));
    const facts = await doctor.gatherDoctorFacts(ctx.host, {
      guestMemoryMiB,
      qemuBinary: String(args.qemuBinary),
    });
    const checks = doctor.evaluateDoctor(facts);
    const code = doctor.doctorExitCode(checks);
    if (ctx.json) ctx.printJson({ ok: code === 0, checks, facts });
    else for (const line of doctor.doctorText(checks)) ctx.print(line);
    return code;
  },
};
