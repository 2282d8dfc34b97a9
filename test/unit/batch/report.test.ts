import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeJUnit } from '../../../src/batch/junit.js';
import { batchToJUnit, formatSummary, resultJson } from '../../../src/batch/report.js';
import type { BatchResult } from '../../../src/batch/scheduler.js';

const XSD = path.resolve('fixtures/batch/junit.xsd');
/** the Jenkins / Ant junit-10 format, as CI servers read it */
const JUNIT10 = path.resolve('fixtures/junit-10.xsd');
const nic = { address: '0000:03:00.0', vendorDevice: '8086:10d3', class: '0x020000', iommuGroup: '7' };

const result: BatchResult = {
  exitCode: 1,
  startedAt: Date.UTC(2026, 0, 1, 12, 0, 0),
  endedAt: Date.UTC(2026, 0, 1, 12, 10, 0),
  timeSec: 600,
  counts: { passed: 1, failed: 1, skipped: 1, cancelled: 1 },
  guests: [
    {
      name: 'web1',
      index: 0,
      status: 'passed',
      exitCode: 0,
      devices: [nic],
      reserved: ['0000:03:00.0'],
      logDir: '/logs/web1',
      startedAt: Date.UTC(2026, 0, 1, 12, 0, 0),
      endedAt: Date.UTC(2026, 0, 1, 12, 5, 0),
      waitedSec: 0,
      timeSec: 300,
      phases: [
        { phase: 'install', status: 'passed', timeSec: 250.5 },
        { phase: 'confirm', status: 'passed', timeSec: 49.5 },
      ],
    },
    {
      name: 'web2 & <friends>',
      index: 1,
      status: 'failed',
      exitCode: 1,
      devices: [nic],
      reserved: ['0000:03:00.0'],
      logDir: '/logs/web2',
      startedAt: Date.UTC(2026, 0, 1, 12, 5, 0),
      endedAt: Date.UTC(2026, 0, 1, 12, 10, 0),
      waitedSec: 300,
      timeSec: 300,
      phases: [
        {
          phase: 'install',
          status: 'failed',
          timeSec: 300,
          failure: {
            code: 'INSTALL_FAILED',
            message: 'the installer stopped: "anaconda" said so',
            // console bytes: an escape sequence, a NUL, and a CDATA terminator
            fatalLine: '\u001b[31mTraceback\u0000 ]]> <here>',
            logPath: '/logs/web2/serial.log',
            exitCode: 1,
          },
        },
        { phase: 'confirm', status: 'skipped', timeSec: 0, reason: 'install failed' },
      ],
      error: { code: 'INSTALL_FAILED', message: 'the installer stopped' },
    },
    {
      name: 'web3',
      index: 2,
      status: 'skipped',
      exitCode: 0,
      devices: [],
      reserved: [],
      logDir: '/logs/web3',
      timeSec: 0,
      reason: 'passed in an earlier run with the same inputs (--resume)',
      phases: [
        { phase: 'install', status: 'skipped', timeSec: 0, reason: 'passed before (--resume)' },
        { phase: 'confirm', status: 'skipped', timeSec: 0, reason: 'passed before (--resume)' },
      ],
    },
    {
      name: 'web4',
      index: 3,
      status: 'cancelled',
      exitCode: 1,
      devices: [],
      reserved: [],
      logDir: '/logs/web4',
      timeSec: 0,
      reason: 'not started: --fail-fast: web2 failed',
      phases: [
        { phase: 'install', status: 'skipped', timeSec: 0, reason: 'not started' },
        { phase: 'confirm', status: 'skipped', timeSec: 0, reason: 'not started' },
      ],
    },
  ],
};

async function xmllint(args: string[], xml: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-junit-'));
  try {
    const file = path.join(dir, 'report.xml');
    await writeFile(file, xml);
    return await execa('xmllint', [...args, file], { reject: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('batch report', () => {
  it('writes JUnit with one case per guest and phase that validates strictly against the schema', async () => {
    const xml = writeJUnit(batchToJUnit('fleet', result));
    const v = await xmllint(['--noout', '--schema', XSD], xml);
    expect(v.exitCode, v.stderr).to.equal(0);
    const j = await xmllint(['--noout', '--schema', JUNIT10], xml);
    expect(j.exitCode, j.stderr).to.equal(0);
    const count = async (xpath: string) => Number((await xmllint(['--xpath', xpath], xml)).stdout);
    expect(await count('count(//testcase)')).to.equal(8);
    expect(await count('count(//testcase[failure])')).to.equal(1);
    expect(await count('count(//testcase[skipped])')).to.equal(5);
    expect(await count('number(/testsuites/@failures)')).to.equal(1);
    expect(await count('number(/testsuites/testsuite/@skipped)')).to.equal(5);
    const failure = await xmllint(['--xpath', 'string(//failure/@message)'], xml);
    expect(failure.stdout).to.equal(
      'the installer stopped: "anaconda" said so: \\x1b[31mTraceback\\x00 ]]> <here>',
    );
    const text = await xmllint(['--xpath', 'string(//failure)'], xml);
    expect(text.stdout).to.include('log: /logs/web2/serial.log');
    expect(text.stdout).to.include('fatal line: \\x1b[31mTraceback');
    const cls = await xmllint(['--xpath', 'string(//testcase[failure]/@classname)'], xml);
    expect(cls.stdout).to.equal('web2 & <friends>');
  });

  it('has a schema that rejects a report missing a required time', async () => {
    const xml = writeJUnit(batchToJUnit('fleet', result)).replace(/ time="250\.500"/, '');
    const v = await xmllint(['--noout', '--schema', XSD], xml);
    expect(v.exitCode).to.not.equal(0);
    expect(v.stderr).to.match(/time.*required/);
  });

  it('the junit-10 schema rejects what Jenkins would not read', async () => {
    const xml = writeJUnit(batchToJUnit('fleet', result));
    const bad: [string, string][] = [
      [xml.replace(/<testsuites /, '<testsuites skipped="5" '), 'skipped'],
      [xml.replace(/(<testsuite name="[^"]*") tests="\d+"/, '$1'), 'tests'],
      [xml.replace(/ time="250\.500"/, ' time="a while"'), 'time'],
      [xml.replace(/<testcase name="install"/, '<testcase title="install"'), 'title'],
      [xml.replace(/<\/testsuite>/, '<result/></testsuite>'), 'result'],
    ];
    for (const [doc, what] of bad) {
      expect(doc, what).to.not.equal(xml);
      const v = await xmllint(['--noout', '--schema', JUNIT10], doc);
      expect(v.exitCode, what).to.not.equal(0);
      expect(v.stderr, what).to.include(what);
    }
  });

  it('prints a summary table, the failures and the tally', () => {
    const lines = formatSummary(result);
    expect(lines[0]).to.match(/^GUEST\s+RESULT\s+INSTALL\s+CONFIRM\s+DEVICES\s+WAITED\s+TIME\s+LOG$/);
    expect(lines[1]).to.match(
      /^web1\s+passed\s+passed\s+passed\s+0000:03:00\.0\s+0\.0s\s+300\.0s\s+\/logs\/web1$/,
    );
    expect(lines[3]).to.match(/^web3\s+skipped\s+skipped\s+skipped\s+-\s+-\s+-\s+\/logs\/web3$/);
    expect(lines).to.include('web2 & <friends>: the installer stopped [INSTALL_FAILED]');
    expect(lines).to.include('web4: not started: --fail-fast: web2 failed');
    expect(lines.at(-1)).to.equal('4 guests: 1 passed, 1 failed, 1 skipped, 1 cancelled in 600.0s (exit 1)');
    // the columns line up
    const col = lines[0]!.indexOf('DEVICES');
    for (const l of lines.slice(1, 5)) expect(l[col - 1]).to.equal(' ');
  });

  it('gives --json every guest with its devices, phases and error', () => {
    const j = resultJson('fleet', result) as { guests: Record<string, unknown>[]; exitCode: number };
    expect(j.exitCode).to.equal(1);
    expect(j.guests[0]!.devices).to.deep.equal([
      { address: '0000:03:00.0', vendorDevice: '8086:10d3', iommuGroup: '7' },
    ]);
    expect(j.guests[1]!.error).to.deep.equal({ code: 'INSTALL_FAILED', message: 'the installer stopped' });
    expect(JSON.parse(JSON.stringify(j))).to.deep.equal(j);
  });
});
