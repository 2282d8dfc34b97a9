/**
 * `--connect qemu:///system` against a real libvirtd (started by the test when it is not running):
 * the inventory from libvirt's nodedevs agrees with lspci on this machine, and the local URI still
 * reads this host's own guards (default route, mounted root disk).
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { BUILT_CLI, requireBuiltCli } from '../../helpers/cli.js';
import { SYSTEM_URI, ensureLibvirtd } from '../../helpers/libvirtd.js';

interface Listed {
  address: string;
  vendorId: string;
  deviceId: string;
  classCode: string;
  driver: string | null;
  verdict: string;
  reasons: { code: string }[];
}

describe('hostdev list --connect qemu:///system (real libvirtd)', function () {
  this.timeout(180_000);
  before(async () => {
    requireBuiltCli();
    await ensureLibvirtd();
  });

  it('lists the same functions as lspci, with the same ids, classes and drivers', async () => {
    const r = await execa('node', [BUILT_CLI, 'hostdev', 'list', '--connect', SYSTEM_URI, '--json'], {
      reject: false,
    });
    expect(r.exitCode, r.stderr).to.equal(0);
    const listed = JSON.parse(r.stdout) as { source?: { uri: string }; devices: Listed[] };
    expect(listed.source).to.deep.equal({ kind: 'libvirt', uri: SYSTEM_URI });
    // lspci -Dnmm -vk: one "Tag:\tvalue" block per function (Slot, Class, Vendor, Device, Driver)
    const l = await execa('lspci', ['-Dnmm', '-vk']);
    const fromLspci = l.stdout
      .split('\n\n')
      .filter((b) => b.trim())
      .map((b) => {
        const tag = (t: string): string | null => new RegExp(`^${t}:\\s*(\\S+)`, 'm').exec(b)?.[1] ?? null;
        return {
          address: tag('Slot'),
          classCode: tag('Class'),
          vendorId: tag('Vendor'),
          deviceId: tag('Device'),
          driver: tag('Driver'),
        };
      });
    expect(fromLspci.length).to.be.greaterThan(0);
    expect(
      listed.devices.map((d) => ({
        address: d.address,
        classCode: d.classCode.slice(0, 4),
        vendorId: d.vendorId,
        deviceId: d.deviceId,
        driver: d.driver,
      })),
    ).to.deep.equal(fromLspci);
  });

  it('reads the local guards for a local URI: the default-route NIC is refused, never unknown', async () => {
    const list = (...extra: string[]) =>
      execa('node', [BUILT_CLI, 'hostdev', 'list', '--class', 'net', '--json', ...extra]);
    const [viaLibvirt, local] = await Promise.all([list('--connect', SYSTEM_URI), list()]);
    const a = JSON.parse(viaLibvirt.stdout) as { devices: Listed[]; unknownGuards?: unknown };
    const b = JSON.parse(local.stdout) as { devices: Listed[] };
    expect(a.unknownGuards).to.equal(undefined);
    expect(a.devices.map((d) => [d.address, d.verdict])).to.deep.equal(
      b.devices.map((d) => [d.address, d.verdict]),
    );
    for (const d of a.devices) expect(d.reasons.map((x) => x.code)).to.not.include('GUARD_UNKNOWN');
  });

  it('doctor --connect: the connection answers, only qemu (TCG) domains, no IOMMU group: exit 3', async () => {
    const r = await execa('node', [BUILT_CLI, 'doctor', '--json'], {
      reject: false,
      env: { LIBVIRT_DEFAULT_URI: SYSTEM_URI },
    });
    const out = JSON.parse(r.stdout) as {
      checks: { id: string; status: string }[];
      facts: { domainTypes: string[] };
    };
    const status = Object.fromEntries(out.checks.map((c) => [c.id, c.status]));
    expect(status['libvirt-connection']).to.equal('PASS');
    // this machine's /dev/kvm is not hardware KVM: libvirt's own probe offers only qemu domains
    expect(out.facts.domainTypes).to.include('qemu');
    expect(status['libvirt-iommu']).to.equal('FAIL');
    expect(r.exitCode).to.equal(3);
  });

  it('an unreachable URI: exit 3 naming the URI, no stack trace', async () => {
    const r = await execa(
      'node',
      [BUILT_CLI, 'hostdev', 'list', '--connect', 'qemu+tcp://127.0.0.1:9/system'],
      {
        reject: false,
      },
    );
    expect(r.exitCode).to.equal(3);
    expect(r.stderr).to.match(
      /cannot reach libvirt at qemu\+tcp:\/\/127\.0\.0\.1:9\/system.*\[LIBVIRT_UNREACHABLE\]/,
    );
    expect(r.stderr).to.not.match(/\n\s+at /);
  });
});
