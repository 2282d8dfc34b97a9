import { expect } from 'chai';
import { exitOfStop, parseLifecycleLine, parseMonitorEventLine } from '../../../src/backend/libvirt.js';
import { isLocalUri, libvirtError, redactUri, resolveConnectUri } from '../../../src/libvirt/connection.js';
import { parsePoolList, x86DomainTypes } from '../../../src/libvirt/doctor.js';
import { cdromTarget, chooseDomainType, domainXml, mainPool } from '../../../src/libvirt/install.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { parseInstallRequest, type RawInstallArgs } from '../../../src/request/request.js';
import { reduceLifecycle, initialLifecycle } from '../../../src/qemu/lifecycle.js';

describe('libvirt backend: what virsh prints, read', () => {
  it('qemu-monitor-event lines become the QMP events the lifecycle reducer folds (both virsh formats)', () => {
    const a = parseMonitorEventLine(
      `2026-12-08 01:37:12.440+0000: event SHUTDOWN for domain 'web1': {"guest":true,"reason":"guest-shutdown"}`,
      'web1',
    );
    expect(a).to.deep.include({ event: 'SHUTDOWN', data: { guest: true, reason: 'guest-shutdown' } });
    expect(a!.timestamp).to.deep.equal({
      seconds: Date.UTC(2026, 11, 8, 1, 37, 12) / 1000,
      microseconds: 440000,
    });
    const b = parseMonitorEventLine(`event RESUME at 1765157829.558123 for domain 'web1': <null>`, 'web1');
    expect(b).to.deep.equal({
      event: 'RESUME',
      data: {},
      timestamp: { seconds: 1765157829, microseconds: 558123 },
    });
    // another domain's events are not ours
    expect(parseMonitorEventLine(`event SHUTDOWN at 1.0 for domain 'web10': {}`, 'web1')).to.equal(null);
    const lc = reduceLifecycle(initialLifecycle, { kind: 'event', event: a! });
    expect(lc.verdict).to.deep.equal({ state: 'finished', how: 'poweroff', reason: 'guest-shutdown' });
  });

  it('lifecycle lines: only a stop of this domain is an exit', () => {
    expect(parseLifecycleLine(`event 'lifecycle' for domain 'web1': Stopped Shutdown`, 'web1')).to.equal(
      'Shutdown',
    );
    expect(parseLifecycleLine(`event 'lifecycle' for domain 'web1': Started Booted`, 'web1')).to.equal(null);
    expect(parseLifecycleLine(`event 'lifecycle' for domain 'x': Stopped Destroyed`, 'web1')).to.equal(null);
    expect(exitOfStop('Shutdown', 5)).to.include({ code: 0, signal: null });
    expect(exitOfStop('Destroyed', 5)).to.include({ code: null, signal: 'SIGTERM' });
    expect(exitOfStop('Failed', 5)).to.include({ code: 1 });
  });
});

describe('libvirt connection', () => {
  it('--connect wins over LIBVIRT_DEFAULT_URI; neither: no libvirt; a non-URI is bad input', () => {
    expect(resolveConnectUri('qemu:///system', { LIBVIRT_DEFAULT_URI: 'qemu+ssh://h/system' })).to.equal(
      'qemu:///system',
    );
    expect(resolveConnectUri(undefined, { LIBVIRT_DEFAULT_URI: 'qemu+ssh://h/system' })).to.equal(
      'qemu+ssh://h/system',
    );
    expect(resolveConnectUri(undefined, {})).to.equal(undefined);
    expect(() => resolveConnectUri('system', {})).to.throw(/not a libvirt URI/);
  });

  it('local is a URI without a host; a password never shows; virsh errors lose their prefix', () => {
    expect(isLocalUri('qemu:///system')).to.equal(true);
    expect(isLocalUri('qemu+tcp://127.0.0.1:16509/system')).to.equal(false);
    expect(redactUri('qemu+tcp://user:secret@h/system')).to.equal('qemu+tcp://user:***@h/system');
    expect(libvirtError('error: failed to connect to the hypervisor\nerror: Connection refused\n')).to.equal(
      'Connection refused',
    );
  });

  it('domain type: kvm when asked and offered, else qemu; kvm asked but not offered is refused', () => {
    expect(chooseDomainType('auto', ['kvm', 'qemu'], 'u')).to.equal('kvm');
    expect(chooseDomainType('auto', ['qemu'], 'u')).to.equal('qemu');
    expect(chooseDomainType('tcg', ['kvm', 'qemu'], 'u')).to.equal('qemu');
    expect(() => chooseDomainType('kvm', ['qemu'], 'u')).to.throw(/offers no kvm domains/);
    const caps = `<capabilities><host/><guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/></arch></guest>
      <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>`;
    expect(x86DomainTypes(caps)).to.deep.equal(['kvm', 'qemu']);
    expect(parsePoolList(' default   active   yes\n images    inactive no\n')).to.deep.equal([
      { name: 'default', active: true },
      { name: 'images', active: false },
    ]);
  });

  it('the main pool (install media, disks without pool=): the first pool= given, else default', () => {
    expect(mainPool([{ sizeGiB: 8 }])).to.deep.equal({ pool: 'default', named: false });
    expect(mainPool([])).to.deep.equal({ pool: 'default', named: false });
    expect(
      mainPool([{ sizeGiB: 8 }, { pool: 'fast', sizeGiB: 2 }, { pool: 'slow', sizeGiB: 2 }]),
    ).to.deep.equal({ pool: 'fast', named: true });
  });
});

describe('libvirt backend: the domain XML of each boot with --boot uefi and --tpm', () => {
  const state = (raw: RawInstallArgs): InstallState => ({
    raw: {},
    cwd: '/srv',
    request: parseInstallRequest(
      {
        name: 'efi',
        boot: 'uefi,kernel=/k/vmlinuz,initrd=/k/initrd.img',
        disk: ['path=/srv/efi.qcow2'],
        tpm: 'emulator',
        ...raw,
      },
      '/srv',
    ),
    libvirt: {
      uri: 'qemu:///system',
      local: true,
      domainType: 'qemu',
      pool: 'default',
      transient: false,
      created: { volumes: [], defined: false },
      diskPaths: { '/srv/efi.qcow2': '/var/lib/libvirt/images/efi.qcow2' },
    },
    uuid: '6e8bc430-9c3a-11d9-9669-0800200c9a66',
    mac: '52:54:00:12:34:56',
    accel: 'tcg',
    workDir: '/w',
    logDir: '/logs',
    media: {
      source: '/k',
      kind: 'kernel-initrd',
      boot: { kind: 'kernel', kernel: '/k/vmlinuz', initrd: '/k/initrd.img', append: 'console=ttyS0' },
    } as unknown as InstallState['media'],
  });

  it("OVMF with libvirt's own copy of the vars template; a TPM whose state outlives the transient install boot", () => {
    const install = domainXml(
      state({}),
      'install',
      { kernel: '/pool/k', initrd: '/pool/i', cdroms: [] },
      undefined,
    );
    expect(install).to.include(
      "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>",
    );
    expect(install).to.include("<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/>");
    expect(install).to.include("<backend type='emulator' version='2.0' persistent_state='yes'/>");
    expect(install).to.include("<tpm model='tpm-crb'>");
    const confirm = domainXml(state({ tpm: 'emulator,model=tpm-tis' }), 'confirm', { cdroms: [] }, undefined);
    expect(confirm).to.include("<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/>");
    expect(confirm).to.include("<tpm model='tpm-tis'>");
    expect(confirm).to.include("<backend type='emulator' version='2.0'/>");
    expect(confirm).to.not.include('<kernel>');
  });

  it('loader= and nvram.template= are used as given; no --tpm, no <tpm>', () => {
    const xml = domainXml(
      state({ boot: 'loader=/fw/CODE.fd,nvram.template=/fw/VARS.fd,kernel=/k/vmlinuz', tpm: undefined }),
      'confirm',
      { cdroms: [] },
      undefined,
    );
    expect(xml).to.include("<loader readonly='yes' type='pflash'>/fw/CODE.fd</loader>");
    expect(xml).to.include("<nvram template='/fw/VARS.fd'/>");
    expect(xml).to.not.include('<tpm');
  });
});

describe('libvirt domain XML of each boot: the cloud-init seed', () => {
  const state = (): InstallState => ({
    raw: {},
    cwd: '/w',
    request: parseInstallRequest(
      {
        name: 'ci1',
        import: true,
        disk: ['path=/img/ci1.qcow2'],
        accel: 'tcg',
        network: 'user,model=e1000e',
      },
      '/w',
    ),
    libvirt: {
      uri: 'qemu:///system',
      local: true,
      domainType: 'qemu',
      pool: 'default',
      transient: false,
      created: { volumes: [], defined: false },
      diskPaths: {},
    },
    uuid: '00000000-0000-4000-8000-000000000001',
    mac: '52:54:00:00:00:01',
  });
  const cdroms = (xml: string): string[] =>
    [
      ...xml.matchAll(
        /<disk type='file' device='cdrom'>[\s\S]*?<source file='([^']+)'\/>\s*<target dev='([^']+)'/g,
      ),
    ].map((m) => `${m[2]} ${m[1]}`);

  it('the confirm boot carries the seed as a cdrom at the target change-media ejects; without one, none', () => {
    const xml = domainXml(state(), 'confirm', { cdroms: ['/pool/ci1-cidata.iso'] }, '/logs/serial.log');
    expect(cdroms(xml)).to.deep.equal([`${cdromTarget(0)} /pool/ci1-cidata.iso`]);
    expect(cdromTarget(0)).to.equal('sdu');
    // it boots from the disk, not from the seed
    expect(xml).to.not.include("<boot dev='cdrom'/>");
    expect(cdroms(domainXml(state(), 'confirm', { cdroms: [] }, undefined))).to.deep.equal([]);
  });
});
