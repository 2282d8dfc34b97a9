/**
 * install-guest itself, run by this machine's node inside L1 (a real kernel with an emulated Intel
 * IOMMU and two e1000e): inventory and doctor with and without the IOMMU, detach to vfio-pci and to
 * pci-stub and back, the pci-stub install refusal, a SIGKILL mid-install followed by `recover`, and
 * the whole `install --hostdev auto` with the L2 guest confirming the NIC it was given.
 *
 * Each L1 boot runs one shell script that calls the built CLI step by step; every step's JSON and
 * stderr land in a writable share (outDir) and the script prints one line per step with its exit
 * code and the NIC's driver afterwards, read from L1's sysfs, not from the tool.
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { type Bed, ensureBed, killAllQemu, runInL1, type RunInL1Result } from '../bed/index.js';
import { BUILT_CLI } from '../../helpers/cli.js';
import type { ConfirmedDevice } from '../../../src/pipeline/state.js';

const repo = path.resolve(import.meta.dirname, '..', '..', '..');
const cli = BUILT_CLI;

/** Shell functions every script starts with: the target NIC, its driver, and a step runner. */
const PRELUDE = [
  'set -u',
  `IG="node ${cli}"`,
  'S=/run/install-guest-state',
  // the first e1000e (8086:10d3) by address
  'A=""',
  'for d in /sys/bus/pci/devices/*; do',
  '  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && { A=${d##*/}; break; }',
  'done',
  'drv() { l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }',
  // step NAME CMD…: stdout → $OUT/NAME.json, stderr → $OUT/NAME.err; prints `STEP NAME exit=N driver=D`
  'step() { n=$1; shift; "$@" > "$OUT/$n.json" 2> "$OUT/$n.err"; echo "STEP $n exit=$? driver=$(drv "$A")"; }',
  'qemus() { n=0; for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = qemu-system-x86 ] && n=$((n+1)); done; echo $n; }',
  'echo "TARGET $A driver=$(drv "$A")"',
];

interface Step {
  exit: number;
  driver: string;
}

function steps(stdout: string): Record<string, Step> {
  const out: Record<string, Step> = {};
  for (const m of stdout.matchAll(/^STEP (\S+) exit=(\d+) driver=(\S+)$/gm))
    out[m[1]!] = { exit: Number(m[2]), driver: m[3]! };
  return out;
}

function target(stdout: string): string {
  const m = /^TARGET (\S+) driver=e1000e$/m.exec(stdout);
  if (!m) throw new Error(`no e1000e target in L1's output:\n${stdout}`);
  return m[1]!;
}

function explain(r: RunInL1Result): string {
  return `exit ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nconsole tail:\n${r.consoleLog.split('\n').slice(-25).join('\n')}`;
}

async function readJson<T>(dir: string, name: string): Promise<T> {
  return JSON.parse(await fs.readFile(path.join(dir, `${name}.json`), 'utf8')) as T;
}

async function readErr(dir: string, name: string): Promise<string> {
  return fs.readFile(path.join(dir, `${name}.err`), 'utf8');
}

interface ListJson {
  iommu: { enabled: boolean };
  devices: {
    address: string;
    vendorId: string;
    deviceId: string;
    driver: string | null;
    iommuGroup: number | null;
    verdict: string;
    reasons: { code: string }[];
  }[];
}

interface DoctorJson {
  ok: boolean;
  checks: { id: string; status: string; message: string; hint?: string }[];
}

describe('install-guest inside L1 (real kernel, emulated IOMMU, nested TCG)', function () {
  this.timeout(15 * 60_000);
  let bed: Bed;
  let out: string;

  before(async function () {
    this.timeout(20 * 60_000);
    bed = await ensureBed();
    await execa(path.join(repo, 'node_modules', '.bin', 'tsc'), ['-p', repo], { cwd: repo });
  });

  beforeEach(async () => {
    // under the bed's cache, which L1 sees through the host-root share; writable through outDir
    out = await fs.mkdtemp(path.join(bed.dir, 'runs', 'tool-'));
  });

  afterEach(async function () {
    // a failed test keeps what L1 wrote (step outputs, the install's log dir) for a post-mortem
    if (this.currentTest?.state === 'failed') process.stderr.write(`kept L1 outputs in ${out}\n`);
    else await fs.rm(out, { recursive: true, force: true });
  });

  after(() => killAllQemu());

  it('with the vIOMMU: lists both e1000e as assignable, doctor passes the IOMMU checks, detaches to vfio-pci and pci-stub and back, refuses an install through pci-stub, and recover gives back a NIC whose install was SIGKILLed', async function () {
    const script = [
      ...PRELUDE,
      'step list $IG hostdev list --class net --json',
      'step doctor $IG doctor --memory 256 --json',
      'step detach-vfio $IG hostdev detach "$A" --state-dir "$S" --json',
      'ls /dev/vfio > "$OUT/vfio-after-detach.txt"',
      'step doctor-bound $IG doctor --memory 256 --json',
      'step reattach-vfio $IG hostdev reattach "$A" --state-dir "$S" --json',
      'step detach-stub $IG hostdev detach "$A" --driver pci-stub --state-dir "$S" --json',
      'step reattach-stub $IG hostdev reattach "$A" --state-dir "$S" --json',
      `step install-stub $IG install --name stub --memory 256 --location ${bed.media.treeDir} --hostdev "$A" --driver pci-stub --state-dir "$S" --json`,
      // the install that is killed: started in the background, SIGKILLed once qemu runs the installer
      `$IG install --name killed --memory 256 --disk path=/tmp/killed.qcow2,size=1 --location ${bed.media.treeDir} --hostdev "$A" --state-dir "$S" --log-dir "$OUT/killed-logs" --json > "$OUT/killed.json" 2> "$OUT/killed.err" &`,
      'P=$!',
      'i=0; until grep -q "install boot: qemu pid" "$OUT/killed.json" 2>/dev/null || [ $i -ge 900 ]; do sleep 1; i=$((i+1)); done',
      'sleep 2',
      'echo "MID driver=$(drv "$A") qemus=$(qemus)"',
      'kill -9 $P; wait $P; echo "KILLED exit=$?"',
      // the kernel kills qemu with its parent (PR_SET_PDEATHSIG): the vfio group is released
      'i=0; while [ "$(qemus)" != 0 ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done',
      'echo "AFTER-KILL driver=$(drv "$A") qemus=$(qemus)"',
      'step recover-dry $IG recover --dry-run --state-dir "$S" --json',
      'step recover $IG recover --state-dir "$S" --json',
      'step recover-again $IG recover --state-dir "$S" --json',
    ].join('\n');
    const r = await runInL1(bed, ['sh', '-c', script], {
      timeoutMs: 14 * 60_000,
      memoryMiB: 1536,
      outDir: out,
      env: { OUT: out },
      preload: [],
    });
    expect(r.exitCode, explain(r)).to.equal(0);
    const addr = target(r.stdout);
    const s = steps(r.stdout);
    const why = explain(r);

    // inventory: both e1000e assignable, each alone in its own group
    expect(s.list, why).to.deep.equal({ exit: 0, driver: 'e1000e' });
    const list = await readJson<ListJson>(out, 'list');
    expect(list.iommu.enabled).to.equal(true);
    const nics = list.devices.filter((d) => `${d.vendorId}:${d.deviceId}` === '8086:10d3');
    expect(nics.map((n) => n.address))
      .to.have.length(2)
      .and.include(addr);
    for (const n of nics) {
      expect(n.verdict, JSON.stringify(n.reasons)).to.equal('assignable');
      expect(n.driver).to.equal('e1000e');
      expect(list.devices.filter((d) => d.iommuGroup === n.iommuGroup).map((d) => d.address)).to.deep.equal([
        n.address,
      ]);
    }
    expect(new Set(nics.map((n) => n.iommuGroup)).size).to.equal(2);

    // doctor: the IOMMU checks pass (no /dev/kvm in L1, so the whole verdict may still fail); before
    // anything loaded vfio the modules are only loadable (a warning), after the detach they are loaded
    const statusOf = async (name: string): Promise<Record<string, string>> => {
      const doctor = await readJson<DoctorJson>(out, name);
      // exit 3 exactly when a check failed
      expect(s[name]?.exit, why).to.equal(doctor.ok ? 0 : 3);
      return Object.fromEntries(doctor.checks.map((c) => [c.id, `${c.status}: ${c.message}`]));
    };
    const before = await statusOf('doctor');
    for (const id of ['iommu-firmware', 'iommu-kernel', 'interrupt-remapping', 'qemu-vfio'])
      expect(before[id], id).to.match(/^PASS/);
    expect(before['vfio-modules']).to.match(/^(PASS|WARN: .*loadable)/);
    const bound = await statusOf('doctor-bound');
    for (const id of [
      'iommu-firmware',
      'iommu-kernel',
      'interrupt-remapping',
      'vfio-modules',
      'vfio-device',
      'qemu-vfio',
    ])
      expect(bound[id], id).to.match(/^PASS/);

    // detach to vfio-pci (the group's /dev/vfio node appears), back to e1000e; the same through pci-stub
    expect(s['detach-vfio'], why).to.deep.equal({ exit: 0, driver: 'vfio-pci' });
    const group = String(nics.find((n) => n.address === addr)!.iommuGroup);
    const vfio = (await fs.readFile(path.join(out, 'vfio-after-detach.txt'), 'utf8')).split(/\s+/);
    expect(vfio).to.include(group);
    expect(s['reattach-vfio'], why).to.deep.equal({ exit: 0, driver: 'e1000e' });
    expect(s['detach-stub'], why).to.deep.equal({ exit: 0, driver: 'pci-stub' });
    expect(s['reattach-stub'], why).to.deep.equal({ exit: 0, driver: 'e1000e' });

    // an install through pci-stub is refused before anything changes: modern qemu needs vfio-pci
    expect(s['install-stub'], why).to.deep.equal({ exit: 2, driver: 'e1000e' });
    // with --json the error is the JSON object on stdout
    const stub = await readJson<{ error: { code: string; message: string } }>(out, 'install-stub');
    expect(stub.error.code).to.equal('PCI_STUB_CANNOT_ASSIGN');
    expect(stub.error.message).to.match(/modern qemu has no pci-assign/);

    // SIGKILL mid-install: the NIC was on vfio-pci with qemu running; qemu died with its parent
    expect(r.stdout, why).to.match(/^MID driver=vfio-pci qemus=1$/m);
    expect(r.stdout, why).to.match(/^KILLED exit=137$/m);
    expect(r.stdout, why).to.match(/^AFTER-KILL driver=vfio-pci qemus=0$/m);
    // a dry run changes nothing; recover gives the NIC back; a second recover has nothing to do
    expect(s['recover-dry'], why).to.deep.equal({ exit: 0, driver: 'vfio-pci' });
    expect(s.recover, why).to.deep.equal({ exit: 0, driver: 'e1000e' });
    const recovered = JSON.stringify(await readJson<unknown>(out, 'recover'));
    expect(recovered).to.contain(addr);
    expect(s['recover-again'], why).to.deep.equal({ exit: 0, driver: 'e1000e' });
  });

  it('install --hostdev auto: picks an e1000e, binds it to vfio-pci, installs L2 through -device vfio-pci, reboots L2 from its disk, confirms 8086:10d3 in the guest and through query-pci, and gives the NIC back to e1000e', async function () {
    this.timeout(50 * 60_000);
    const script = [
      ...PRELUDE,
      `step install $IG install --name l2 --memory 384 --disk path=/tmp/l2.qcow2,size=1 --location ${bed.media.treeDir} --hostdev auto --state-dir "$S" --log-dir "$OUT/logs" --extra-args "${bed.fastKernelArgs.join(' ')}" --json`,
      'for d in /sys/bus/pci/devices/*; do',
      '  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && echo "NIC ${d##*/} driver=$(drv "${d##*/}")"',
      'done',
      'echo "LEFT qemus=$(qemus) journals=$(ls "$S/journal" 2>/dev/null | wc -l)"',
    ].join('\n');
    const r = await runInL1(bed, ['sh', '-c', script], {
      timeoutMs: 48 * 60_000,
      memoryMiB: 1536,
      outDir: out,
      env: { OUT: out },
    });
    const why = explain(r);
    expect(r.exitCode, why).to.equal(0);
    const s = steps(r.stdout);
    const err = await readErr(out, 'install');
    expect(s.install?.exit, `${why}\ninstall stderr: ${err}`).to.equal(0);

    const events = (await fs.readFile(path.join(out, 'install.json'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = events.at(-1)!;
    expect(result.event).to.equal('result');
    expect(result.verdict).to.equal('confirmed');
    const devices = result.devices as ConfirmedDevice[];
    const assigned = devices.filter((d) => d.kind === 'assigned');
    expect(assigned, JSON.stringify(devices)).to.have.length(1);
    const nic = assigned[0]!;
    // the guest's own listing: the NIC, driven by e1000e inside L2
    expect(nic).to.include({ vendorDevice: '8086:10d3', guestDriver: 'e1000e', qdevId: 'hostdev0' });
    // auto picked one of L1's two e1000e and bound it to vfio-pci for the run
    const nics = [...r.stdout.matchAll(/^NIC (\S+) driver=(\S+)$/gm)].map((m) => ({
      addr: m[1]!,
      driver: m[2]!,
    }));
    expect(nics.map((n) => n.addr)).to.include(nic.source);
    expect(
      events.some(
        (e) =>
          e.event === 'info' && String(e.message).startsWith(`${nic.source}: e1000e → vfio-pci (/dev/vfio/`),
      ),
    ).to.equal(true);
    const installArgs = (await fs.readFile(path.join(out, 'logs', 'install.args'), 'utf8')).split('\n');
    const confirmArgs = (await fs.readFile(path.join(out, 'logs', 'confirm.args'), 'utf8')).split('\n');
    for (const argv of [installArgs, confirmArgs])
      expect(argv.filter((a) => a.startsWith('vfio-pci,'))).to.deep.equal([
        `vfio-pci,host=${nic.source},id=hostdev0,bus=hostdev0-port`,
      ]);
    // qemu's side: query-pci in the confirm boot lists hostdev0 as 8086:10d3 behind its root port
    const found: { vendor: number; device: number }[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        const o = v as { qdev_id?: string; id?: { vendor: number; device: number } };
        if (o.qdev_id === 'hostdev0' && o.id) found.push({ vendor: o.id.vendor, device: o.id.device });
        Object.values(v).forEach(walk);
      }
    };
    for (const line of (await fs.readFile(path.join(out, 'logs', 'qmp-confirm.jsonl'), 'utf8'))
      .trim()
      .split('\n'))
      walk((JSON.parse(line) as { msg: unknown }).msg);
    expect(found, 'hostdev0 in query-pci').to.deep.include({ vendor: 0x8086, device: 0x10d3 });
    // afterwards: both NICs on e1000e, no qemu left, the run's journal closed
    expect(nics).to.deep.equal(nics.map((n) => ({ addr: n.addr, driver: 'e1000e' })));
    expect(r.stdout, why).to.match(/^LEFT qemus=0 journals=0$/m);
  });

  it('without the vIOMMU: hostdev list says no IOMMU for each NIC and doctor fails with the hint to enable it', async () => {
    const script = [
      ...PRELUDE,
      'step list $IG hostdev list --class net --json',
      'step doctor $IG doctor --json',
    ].join('\n');
    const r = await runInL1(bed, ['sh', '-c', script], {
      timeoutMs: 8 * 60_000,
      iommu: false,
      outDir: out,
      env: { OUT: out },
    });
    expect(r.exitCode, explain(r)).to.equal(0);
    const s = steps(r.stdout);
    expect(s.list, explain(r)).to.deep.equal({ exit: 0, driver: 'e1000e' });
    const list = await readJson<ListJson>(out, 'list');
    expect(list.iommu.enabled).to.equal(false);
    const nics = list.devices.filter((d) => `${d.vendorId}:${d.deviceId}` === '8086:10d3');
    expect(nics).to.have.length(2);
    for (const n of nics) {
      expect(n.verdict).to.equal('not-assignable');
      expect(n.reasons.map((x) => x.code)).to.include('NO_IOMMU');
    }
    expect(s.doctor?.exit, explain(r)).to.equal(3);
    const doctor = await readJson<DoctorJson>(out, 'doctor');
    expect(doctor.ok).to.equal(false);
    const failed = doctor.checks.filter((c) => c.status === 'FAIL').map((c) => c.id);
    expect(failed).to.include('iommu-kernel');
    const kernelCheck = doctor.checks.find((c) => c.id === 'iommu-kernel')!;
    expect(kernelCheck.hint).to.match(/intel_iommu=on/);
  });
});
