/**
 * The cloud-init seed (--cloud-init, with --import): the user-data, meta-data and network-config
 * for this run (src/cloudinit/userdata.ts: a fresh instance-id, the assigned NIC by the MAC read on
 * the host before the detach, the confirmation unit), written to a private directory of the work
 * dir and made into a `cidata` volume (or served over HTTP for seed=smbios). The first boot carries
 * it; reboot-and-confirm detaches it once cloud-init has finished. A generated root password is
 * printed once on the terminal (stderr), never logged: the log dir keeps only the redacted user-data.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Stage, StageContext } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { need } from '../pipeline/stage.js';
import { guestHostname, guestNicMac } from './guest-identity.js';

async function render(ctx: StageContext<InstallState>, write: boolean): Promise<Partial<InstallState>> {
  const { state } = ctx;
  const ci = need(state, 'cloudInit');
  const req = need(state, 'request');
  const { buildSeedDocuments } = await import('../cloudinit/userdata.js');
  const { confirmScript } = await import('../kickstart/confirm.js');
  const instanceId = `iid-${state.uuid ?? 'dry-run'}`;
  const mac = guestNicMac(state);
  const docs = await buildSeedDocuments({
    options: write ? ci.options : { ...ci.options, rootPasswordGenerate: false },
    instanceId,
    hostname: guestHostname(req.name),
    ...(mac ? { nicMac: mac } : {}),
    ...(req.confirmUnit ? { confirmScript: confirmScript() } : {}),
  });
  for (const w of docs.warnings) ctx.log.warn(w);
  if (ci.options.defaulted)
    ctx.log.warn(
      ci.options.rootSshKey
        ? `--cloud-init without sub-options: root gets the ssh key ${ci.options.rootSshKey}`
        : '--cloud-init without sub-options: a root password is generated (no ssh key found in ~/.ssh)',
    );
  const files = ['user-data', 'meta-data', ...(docs.networkConfig !== undefined ? ['network-config'] : [])];
  const workDir = write ? need(state, 'workDir') : '<workdir>';
  const seedDir = path.join(workDir, 'cidata');
  const out = {
    ...ci,
    instanceId,
    seedDir,
    files,
  };
  if (!write) {
    return {
      cloudInit: {
        ...out,
        ...(ci.options.seed === 'iso'
          ? { seedIso: path.join(workDir, 'cidata.iso') }
          : { smbiosSerial: 'ds=nocloud;s=http://10.0.2.2:<port>/' }),
      },
    };
  }
  const { writeSeedDir, makeSeedIso, smbiosSerial } = await import('../cloudinit/seed.js');
  await writeSeedDir(seedDir, {
    userData: docs.userData,
    metaData: docs.metaData,
    ...(docs.networkConfig !== undefined ? { networkConfig: docs.networkConfig } : {}),
  });
  const userDataRedacted = path.join(need(state, 'logDir'), 'user-data.redacted');
  await writeFile(userDataRedacted, docs.userDataRedacted, { mode: 0o600 });
  if (docs.generatedPassword !== undefined) {
    // the one place the password is shown: the terminal, not the reporter (whose lines may be kept)
    process.stderr.write(
      `cloud-init: the generated root password of ${req.name} is ${docs.generatedPassword} (shown once; it must be changed at the first login)\n`,
    );
  }
  if (ci.options.seed === 'iso') {
    const seedIso = path.join(workDir, 'cidata.iso');
    await makeSeedIso(ctx.host.exec.bind(ctx.host), seedDir, seedIso);
    ctx.log.info(`cloud-init seed: ${files.join(', ')} on a cidata volume (instance-id ${instanceId})`);
    return { cloudInit: { ...out, seedIso, userDataRedacted } };
  }
  const { serveTree } = await import('../media/serve-tree.js');
  const server = await serveTree(seedDir);
  // recorded at once: a failure from here on still closes it (cleanup reads the state)
  ctx.record({ cloudInit: { ...out, servedSeed: server } });
  ctx.log.info(
    `cloud-init seed: ${files.join(', ')} served at ${server.hostUrl} (instance-id ${instanceId})`,
  );
  return {
    cloudInit: { ...out, smbiosSerial: smbiosSerial(server.guestUrl), userDataRedacted, servedSeed: server },
  };
}

export const renderCloudInit: Stage<InstallState> = {
  name: 'render-cloud-init',
  changesHost: true,
  needs: ['request', 'workDir', 'logDir'],
  async run(ctx) {
    if (!ctx.state.cloudInit) return {};
    return render(ctx, true);
  },
  async cleanup(ctx) {
    // the served seed (seed=smbios) lives as long as the install
    await ctx.state.cloudInit?.servedSeed?.close();
  },
  async plan(ctx) {
    if (!ctx.state.cloudInit) return {};
    return render(ctx, false);
  },
};
