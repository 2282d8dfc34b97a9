import { expect } from 'chai';
import type { InstallState } from '../../../src/pipeline/state.js';
import { guestHostname, guestNicMac } from '../../../src/stages/guest-identity.js';

type MacState = Parameters<typeof guestNicMac>[0];
const request = (network: unknown) => ({ network }) as unknown as InstallState['request'];

describe('guest identity (answer files and cloud-init alike)', () => {
  it("configures the assigned NIC by its host MAC, before the emulated NIC's", () => {
    const s = {
      devices: [{ address: '0000:03:00.0', mac: '00:1b:21:aa:bb:cc' }],
      request: request({ kind: 'user', mac: '52:54:00:00:00:01' }),
    } as unknown as MacState;
    expect(guestNicMac(s)).to.equal('00:1b:21:aa:bb:cc');
  });

  it('takes the emulated NIC (its given MAC, else the generated one), and none without a network', () => {
    expect(
      guestNicMac({ request: request({ kind: 'user', mac: '52:54:00:00:00:01' }) }),
    ).to.equal('52:54:00:00:00:01');
    expect(
      guestNicMac({ request: request({ kind: 'user' }), mac: '52:54:00:12:34:56' }),
    ).to.equal('52:54:00:12:34:56');
    expect(
      guestNicMac({ request: request({ kind: 'none' }), mac: '52:54:00:12:34:56' }),
    ).to.equal(undefined);
  });

  it('makes an RFC 1123 label of the guest name', () => {
    expect(guestHostname('Web_7.example')).to.equal('web-7-example');
    expect(guestHostname('--x--')).to.equal('x');
    expect(guestHostname('___')).to.equal('guest');
    expect(guestHostname('a'.repeat(80))).to.have.length(63);
  });
});
