import { expect } from 'chai';
import {
  EXIT,
  exitCodeOf,
  formatErrorLine,
  guestError,
  hostError,
  inputError,
  interruptedError,
  timeoutError,
} from '../../src/errors.js';

describe('errors', () => {
  it('maps each error kind to the documented exit code', () => {
    expect(inputError('BAD_SIZE', 'm').exitCode).to.equal(2);
    expect(hostError('DEVICE_BUSY', 'm').exitCode).to.equal(3);
    expect(guestError('INSTALL_FAILED', 'm').exitCode).to.equal(1);
    expect(timeoutError('INSTALL_TIMEOUT', 'm').exitCode).to.equal(4);
    expect(interruptedError('SIGINT').exitCode).to.equal(130);
    expect(EXIT).to.deep.equal({
      OK: 0,
      GUEST_FAILED: 1,
      BAD_INPUT: 2,
      HOST_CANNOT: 3,
      TIMEOUT: 4,
      INTERRUPTED: 130,
    });
  });

  it('treats an untyped error as a bug (exit 1), never as success', () => {
    expect(exitCodeOf(new TypeError('boom'))).to.equal(1);
    expect(exitCodeOf('string')).to.equal(1);
  });

  it('formats one line with the message, hint and code, and JSON with the cause', () => {
    const e = inputError('BAD_MEMORY', "--memory '12x' is not a size", {
      hint: 'use 2048 or 2G',
      cause: new Error('inner'),
    });
    expect(formatErrorLine(e)).to.equal(
      "install-guest: --memory '12x' is not a size (hint: use 2048 or 2G) [BAD_MEMORY]",
    );
    expect(formatErrorLine(e)).to.not.include('\n');
    expect(e.toJSON()).to.deep.equal({
      error: {
        code: 'BAD_MEMORY',
        message: "--memory '12x' is not a size",
        hint: 'use 2048 or 2G',
        exitCode: 2,
        cause: 'inner',
      },
    });
  });
});
