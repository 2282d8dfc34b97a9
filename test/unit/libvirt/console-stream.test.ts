import { expect } from 'chai';
import { LibvirtConnection } from '../../../src/libvirt/connection.js';
import { helperPython, openConsoleStream, readHelperStatus } from '../../../src/libvirt/console-stream.js';
import { isInstallGuestError } from '../../../src/errors.js';

describe('libvirt console reader: the helper that reads a remote console through the connection', () => {
  it('reads the helper status lines: attached, refused by libvirt, no binding, nothing yet', () => {
    expect(readHelperStatus('open\n')).to.deep.equal({ open: true });
    expect(readHelperStatus('libvirt: Domain not found\n')).to.deep.equal({
      open: false,
      failure: 'Domain not found',
    });
    expect(readHelperStatus('no-binding: python3-libvirt is not installed\n')).to.deep.equal({
      open: false,
      failure: 'python3-libvirt is not installed',
    });
    // a partial first line is not a status yet
    expect(readHelperStatus('ope')).to.deep.equal({ open: false });
  });

  it('runs the system python (the one with Debian binding) when there is one', () => {
    expect(helperPython((p) => p === '/usr/bin/python3')).to.equal('/usr/bin/python3');
    expect(helperPython(() => false)).to.equal('python3');
  });

  // libvirt's test driver (no daemon): real libvirt answers through the real binding
  const refusal = async (
    domain: string,
    pool = 'default-pool',
  ): Promise<{ code: string; message: string; hint: string }> => {
    const s = openConsoleStream(
      new LibvirtConnection('test:///default'),
      domain,
      { pool, volume: 'console.log' },
      () => undefined,
      20_000,
    );
    const e: unknown = await s.open.then(
      () => null,
      (x: unknown) => x,
    );
    await s.done;
    expect(isInstallGuestError(e), String(e)).to.equal(true);
    return e as { code: string; message: string; hint: string };
  };

  it('an unknown domain: LIBVIRT_CONSOLE_UNAVAILABLE with libvirt’s own words', async () => {
    const e = await refusal('no-such-domain');
    expect(e.code).to.equal('LIBVIRT_CONSOLE_UNAVAILABLE');
    expect(e.message).to.match(/no-such-domain through test:\/\/\/default: Domain not found/);
  });

  it('a pool that is not there: LIBVIRT_CONSOLE_UNAVAILABLE naming it, with the hint to check the pool', async () => {
    const e = await refusal('test', 'no-such-pool');
    expect(e.code).to.equal('LIBVIRT_CONSOLE_UNAVAILABLE');
    expect(e.message).to.match(/Storage pool not found.*no-such-pool/);
    expect(e.hint).to.include('pool');
  });
});
