/**
 * `install --connect qemu+tcp://…` against a REMOTE libvirtd with a real IOMMU: libvirtd runs inside
 * L1 (the bed's nested host: its own kernel, an emulated Intel IOMMU, two e1000e), started with a
 * private configuration (listen_tcp on L1's side of a user-mode NIC only, auth_tcp none, an empty
 * /etc/libvirt and /var/lib/libvirt of its own). This machine reaches it through that NIC's port
 * forward (hostfwd on 127.0.0.1), as any remote host: install-guest runs HERE, everything else
 * (inventory, pool, volumes, domains, vfio binding) happens in L1 through the connection.
 *
 * L1's management NIC is a virtio-net on its own root port after the two e1000e: remote facts
 * (routes, addresses) are unknown, so `--hostdev auto` needs `--force` (checked first: without it
 * every NIC is refused with GUARD_UNKNOWN), and auto's order (by address among equals) picks the
 * first e1000e, not the NIC carrying the connection. The test asserts the pick.
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { type Bed, ensureBed, killAllQemu, runInL1 } from '../bed/index.js';
import { BUILT_CLI, requireBuiltCli } from '../../helpers/cli.js';
import type { ConfirmedDevice } from '../../../src/pipeline/state.js';

const L1_PORT = 16509;
const MGMT_MAC = '52:54:00:1b:00:f0';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** What L1 runs: its management NIC up, a private libvirtd listening on it, then wait for `done`. */
function l1Script(): string {
  return [
    'set -u',
    'drv() { l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }',
    'nics() { for d in /sys/bus/pci/devices/*; do [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && echo "NIC ${d##*/} driver=$(drv "${d##*/}")"; done; }',
    'modprobe virtio_net || exit 10',
    'IF=""',
    'for t in $(seq 1 50); do',
    `  for n in /sys/class/net/*; do [ "$(cat "$n/address")" = ${MGMT_MAC} ] && IF=\${n##*/}; done`,
    '  [ -n "$IF" ] && break; sleep 0.2',
    'done',
    '[ -n "$IF" ] || exit 11',
    'ip link set lo up && ip link set "$IF" up && ip addr add 10.0.2.15/24 dev "$IF" && ip route add default via 10.0.2.2 || exit 12',
    // a libvirt of its own: nothing of this machine's configuration, domains, pools or images
    'for d in /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do mkdir -p "$d" && mount -t tmpfs -o mode=0755 tmpfs "$d" || exit 13; done',
    'mkdir -p /etc/libvirt/qemu /var/lib/libvirt/qemu /var/lib/libvirt/images /var/log/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt',
    // libvirt locks a pty console in /var/lock (/run/lock, not made by this minimal init)
    'mkdir -p /run/lock',
    'getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu',
    'getent passwd libvirt-qemu >/dev/null || useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu',
    "cat > /etc/libvirt/libvirtd.conf <<'EOF'",
    'listen_tls = 0',
    'listen_tcp = 1',
    'auth_tcp = "none"',
    'listen_addr = "10.0.2.15"',
    `tcp_port = "${L1_PORT}"`,
    'EOF',
    "cat > /etc/libvirt/qemu.conf <<'EOF'",
    'user = "root"',
    'group = "root"',
    'dynamic_ownership = 0',
    'remember_owner = 0',
    'security_driver = "none"',
    'namespaces = [ ]',
    'cgroup_controllers = [ ]',
    'EOF',
    'virtlogd -d || exit 14',
    'libvirtd -d --listen -f /etc/libvirt/libvirtd.conf || exit 15',
    'nics',
    'echo LIBVIRTD started',
    // this machine drives the install through the connection; it writes $OUT/done when finished
    'while [ ! -e "$OUT/done" ]; do sleep 1; done',
    'echo AFTER',
    'nics',
    'n=0; for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = qemu-system-x86 ] && n=$((n+1)); done; echo "QEMUS $n"',
  ].join('\n');
}

interface ListJson {
  devices: {
    address: string;
    vendorId: string;
    deviceId: string;
    driver: string | null;
    verdict: string;
    reasons: { code: string }[];
  }[];
  unknownGuards?: { facts: string[] };
}

describe('install --connect qemu+tcp:// to a libvirtd inside L1 (remote host, real IOMMU, nested TCG)', function () {
  this.timeout(40 * 60_000);
  let bed: Bed;
  let out: string;

  before(async function () {
    this.timeout(20 * 60_000);
    requireBuiltCli();
    bed = await ensureBed();
  });

  beforeEach(async () => {
    out = await fs.mkdtemp(path.join(bed.dir, 'runs', 'lvremote-'));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`kept outputs in ${out}\n`);
    else await fs.rm(out, { recursive: true, force: true });
  });

  after(() => killAllQemu());

  it('hostdev auto --force picks an e1000e from L1’s nodedevs; libvirt binds it to vfio-pci; L2 is installed, rebooted and confirms 8086:10d3; the NIC is back on e1000e after undefine', async function () {
    const t0 = performance.now();
    const port = await freePort();
    const uri = `qemu+tcp://127.0.0.1:${port}/system`;
    const marks: Record<string, number> = {};
    const mark = (k: string): void => {
      marks[k] = Math.round(performance.now() - t0);
    };
    const virsh = (...args: string[]) =>
      execa('virsh', ['-q', '-c', uri, ...args], { reject: false, timeout: 120_000 });
    const ig = (args: string[]) =>
      execa('node', [BUILT_CLI, ...args], { reject: false, cwd: out, env: { LIBVIRT_DEFAULT_URI: '' } });

    const l1 = runInL1(bed, ['sh', '-c', l1Script()], {
      timeoutMs: 35 * 60_000,
      memoryMiB: 1536,
      outDir: out,
      env: { OUT: out },
      extraArgs: [
        '-device',
        'pcie-root-port,id=igmgmt,bus=pcie.0,chassis=9,slot=9',
        '-netdev',
        `user,id=igmnet,hostfwd=tcp:127.0.0.1:${port}-10.0.2.15:${L1_PORT}`,
        '-device',
        `virtio-net-pci,bus=igmgmt,netdev=igmnet,mac=${MGMT_MAC}`,
      ],
    });
    let l1Ended = false;
    void l1.then(
      () => (l1Ended = true),
      () => (l1Ended = true),
    );
    const finishL1 = async () => {
      await fs.writeFile(path.join(out, 'done'), '');
      return l1;
    };

    try {
      // the remote libvirtd answers once L1 booted and libvirtd probed qemu
      let up = false;
      while (!up && !l1Ended && performance.now() - t0 < 10 * 60_000) {
        up = (await virsh('version')).exitCode === 0;
        if (!up) await new Promise((r) => setTimeout(r, 2000));
      }
      expect(up, 'the libvirtd in L1 never answered').to.equal(true);
      mark('libvirtd answers');

      // the inventory comes from L1's nodedevs; remote guards are unknown, so auto needs --force
      const list = await ig(['hostdev', 'list', '--connect', uri, '--class', 'net', '--json']);
      expect(list.exitCode, list.stderr).to.equal(0);
      const inv = JSON.parse(list.stdout) as ListJson;
      const e1000e = inv.devices.filter((d) => `${d.vendorId}:${d.deviceId}` === '8086:10d3');
      expect(e1000e, list.stdout).to.have.length(2);
      for (const d of e1000e) {
        expect(d.driver).to.equal('e1000e');
        expect(d.verdict).to.equal('not-assignable');
        expect(d.reasons.map((r) => r.code)).to.include('GUARD_UNKNOWN');
      }
      expect(inv.unknownGuards?.facts).to.include('default route');
      mark('hostdev list');

      const name = 'l2remote';
      const logs = path.join(out, 'logs');
      const t1 = performance.now();
      const r = await ig([
        'install',
        '--connect',
        uri,
        '--name',
        name,
        '--boot',
        `kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
        '--os-variant',
        'fedora',
        '--memory',
        '384',
        '--disk',
        'size=1',
        '--network',
        'none',
        '--hostdev',
        'auto',
        '--force',
        '--accel',
        'tcg',
        '--extra-args',
        bed.fastKernelArgs.join(' '),
        '--log-dir',
        logs,
        '--json',
      ]);
      const installMs = Math.round(performance.now() - t1);
      mark('install');
      expect(r.exitCode, `${r.stderr}\n${r.stdout.slice(-3000)}`).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      const result = JSON.parse(lines.at(-1)!) as { verdict: string; devices: ConfirmedDevice[] };
      expect(result.verdict).to.equal('confirmed');
      const assigned = result.devices.filter((d) => d.kind === 'assigned');
      expect(assigned, JSON.stringify(result.devices)).to.have.length(1);
      const nic = assigned[0]!;
      expect(nic).to.include({ vendorDevice: '8086:10d3', guestDriver: 'e1000e', qdevId: 'hostdev0' });
      // the pick: the first e1000e of L1's inventory, never the NIC carrying the connection
      expect(nic.source).to.equal(e1000e.map((d) => d.address).sort()[0]);

      // the domains ran in L1: a managed hostdev, the console came through the connection
      const installXml = await fs.readFile(path.join(logs, 'install.xml'), 'utf8');
      expect(installXml).to.match(/<hostdev mode='subsystem' type='pci' managed='yes'>/);
      expect(installXml).to.include('<on_reboot>destroy</on_reboot>');
      expect(installXml).to.include('/var/lib/libvirt/images/l2remote-install-kernel');
      expect(await fs.readFile(path.join(logs, 'serial-install.log'), 'latin1')).to.match(
        /Linux version [\s\S]*reboot: Power down/,
      );
      expect(await fs.readFile(path.join(logs, 'serial-confirm.log'), 'latin1')).to.include('IG-CONFIRM');

      // what stays in L1: the persistent domain (shut off) and its disk volume; no install media
      const info = await virsh('dominfo', name);
      expect(info.stdout).to.match(/Persistent:\s+yes/);
      expect(info.stdout).to.match(/State:\s+shut off/);
      const vols = (await virsh('vol-list', 'default')).stdout;
      expect(vols).to.include(`${name}.qcow2`);
      expect(vols).to.not.include('install-');
      // libvirt gave the NIC back when the domain stopped; undefine it and read L1's sysfs
      const back = await virsh('nodedev-dumpxml', `pci_${nic.source.replace(/[:.]/g, '_')}`);
      expect(back.stdout).to.match(/<driver>\s*<name>e1000e<\/name>/);
      expect((await virsh('undefine', name)).exitCode).to.equal(0);
      expect((await virsh('vol-delete', '--pool', 'default', `${name}.qcow2`)).exitCode).to.equal(0);
      mark('checked');

      const l1r = await finishL1();
      mark('L1 ended');
      const why = `L1 exit ${l1r.exitCode}\n${l1r.stdout}\n${l1r.stderr}\n${l1r.consoleLog.split('\n').slice(-20).join('\n')}`;
      expect(l1r.exitCode, why).to.equal(0);
      const after = l1r.stdout.slice(l1r.stdout.indexOf('AFTER'));
      const drivers = [...after.matchAll(/^NIC (\S+) driver=(\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
      expect(drivers.sort()).to.deep.equal(e1000e.map((d) => `${d.address} e1000e`).sort());
      expect(after, why).to.match(/^QEMUS 0$/m);
      console.log(
        `      install+confirm through qemu+tcp into L1: ${installMs} ms; marks ${JSON.stringify(marks)}`,
      );
    } finally {
      if (!l1Ended) await finishL1().catch(() => undefined);
    }
  });
});
