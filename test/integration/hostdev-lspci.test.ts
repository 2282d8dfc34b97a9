/**
 * The inventory agrees with the real lspci (pciutils) on the device list, ids, classes, drivers and
 * IOMMU groups: on this machine's own /sys and on every host-profile tree (lspci reads a tree with
 * `-A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci`).
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { rmSync } from 'node:fs';
import { createHost } from '../../src/host/host.js';
import { type Inventory, listDevices } from '../../src/pci/inventory.js';
import { buildHostTreeSync, listProfiles, loadProfile, makeTempRoot } from '../helpers/sysfs-fixture.js';

interface LspciRecord {
  slot: string;
  classCode: string;
  className: string;
  vendor: string;
  device: string;
  svendor: string | null;
  sdevice: string | null;
  rev: string | null;
  driver: string | null;
  iommuGroup: number | null;
}

const idOf = (v: string): string => /\[([0-9a-f]{4})\]$/.exec(v)?.[1] ?? '';

function parseVmm(text: string): LspciRecord[] {
  return text
    .split(/\n\n+/)
    .filter((b) => b.trim())
    .map((block) => {
      const f: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const i = line.indexOf(':\t');
        if (i > 0) f[line.slice(0, i)] = line.slice(i + 2);
      }
      const cls = /^(.*) \[([0-9a-f]{4})\]$/.exec(f.Class ?? '')!;
      return {
        slot: f.Slot!,
        classCode: cls[2]!,
        className: cls[1]!,
        vendor: idOf(f.Vendor ?? ''),
        device: idOf(f.Device ?? ''),
        svendor: f.SVendor ? idOf(f.SVendor) : null,
        sdevice: f.SDevice ? idOf(f.SDevice) : null,
        rev: f.Rev ?? null,
        driver: f.Driver ?? null,
        iommuGroup: f.IOMMUGroup === undefined ? null : Number(f.IOMMUGroup),
      };
    });
}

/** The plain `lspci -D -nn -k` listing: address, class code, ids and "Kernel driver in use". */
function parsePlain(text: string): { slot: string; classCode: string; id: string; driver: string | null }[] {
  const out: { slot: string; classCode: string; id: string; driver: string | null }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) .*?\[([0-9a-f]{4})\]: .*\[([0-9a-f]{4}:[0-9a-f]{4})\]/.exec(line);
    if (m) out.push({ slot: m[1]!, classCode: m[2]!, id: m[3]!, driver: null });
    const k = /^\tKernel driver in use: (\S+)/.exec(line);
    if (k && out.length) out[out.length - 1]!.driver = k[1]!;
  }
  return out;
}

async function lspci(args: string[], root: string): Promise<string> {
  const extra = root === '/' ? [] : ['-A', 'linux-sysfs', '-O', `sysfs.path=${root}/sys/bus/pci`];
  const r = await execa('lspci', [...args, ...extra], { reject: false, timeout: 30_000 });
  expect(r.exitCode, r.stderr).to.equal(0);
  return r.stdout;
}

async function compare(root: string, label: string): Promise<number> {
  const inv: Inventory = await listDevices(createHost({ root }));
  const vmm = parseVmm(await lspci(['-D', '-nn', '-k', '-vmm'], root));
  const plain = parsePlain(await lspci(['-D', '-nn', '-k'], root));
  expect(
    inv.devices.map((d) => d.address),
    `${label}: device list`,
  ).to.deep.equal(vmm.map((r) => r.slot));
  expect(
    plain.map((p) => p.slot),
    `${label}: plain listing`,
  ).to.deep.equal(vmm.map((r) => r.slot));
  for (const [i, r] of vmm.entries()) {
    const d = inv.devices[i]!;
    const at = `${label} ${r.slot}`;
    expect(d.classCode.slice(0, 4), `${at} class`).to.equal(r.classCode);
    expect(r.className === 'Class' ? `Class ${r.classCode}` : r.className, `${at} class name`).to.equal(
      d.className,
    );
    expect(`${d.vendorId}:${d.deviceId}`, `${at} ids`).to.equal(`${r.vendor}:${r.device}`);
    expect(d.driver, `${at} driver`).to.equal(r.driver);
    expect(d.iommuGroup, `${at} IOMMU group`).to.equal(r.iommuGroup);
    expect(d.revision ?? '00', `${at} revision`).to.equal(r.rev ?? '00');
    if (r.svendor !== null)
      expect(`${d.subsystemVendorId}:${d.subsystemDeviceId}`, `${at} subsystem`).to.equal(
        `${r.svendor}:${r.sdevice}`,
      );
    else expect([null, '0000'], `${at} no subsystem`).to.include(d.subsystemVendorId);
    expect(`${plain[i]!.classCode} ${plain[i]!.id} ${plain[i]!.driver}`, `${at} plain`).to.equal(
      `${r.classCode} ${r.vendor}:${r.device} ${r.driver}`,
    );
  }
  return vmm.length;
}

describe('integration: the inventory agrees with lspci', function () {
  this.timeout(120_000);

  it("on this machine's real /sys", async () => {
    expect(await compare('/', 'real /sys')).to.be.greaterThan(0);
  });

  for (const name of listProfiles()) {
    it(`on the ${name} tree`, async () => {
      const root = makeTempRoot(name);
      try {
        buildHostTreeSync(loadProfile(name), root);
        expect(await compare(root, name)).to.equal(loadProfile(name).devices.length);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
