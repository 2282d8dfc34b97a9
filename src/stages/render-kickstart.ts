/**
 * The answer file: a user's kickstart/preseed (the confirmation unit added unless --no-confirm-unit),
 * or a built-in template rendered for this guest (the assigned NIC by its MAC, the target disk, the
 * hostname), then delivered the way the media boots: in a copy of the initrd for a kernel boot
 * (`inst.ks=file:/ks.cfg`), on an OEMDRV volume for a cdrom boot, or (--kickstart-delivery http) served
 * on 127.0.0.1 for a user-networking guest until the install ends. `--initrd-inject` files ride in the
 * same copy of the initrd. The log dir keeps only the redacted copy; the real one lives in the
 * private work dir (0600).
 */
import { writeFile } from 'node:fs/promises';
import { readRegularBytes } from '../kickstart/read-file.js';
import path from 'node:path';
import { inputError } from '../errors.js';
import type { Stage, StageContext } from '../pipeline/stage.js';
import type { InstallState, MediaState } from '../pipeline/state.js';
import type { BootMedia } from '../qemu/command.js';
import { addKernelArgs } from '../request/virt-install.js';
import { need } from '../pipeline/stage.js';
import { guestHostname, guestNicMac } from './guest-identity.js';

type Family = 'kickstart' | 'preseed';

/** The answer-file family an installer reads, from the media's installer or the --os-variant. */
export function answerFamilyFor(media: MediaState, osVariant: string | undefined): Family | undefined {
  const installer = media.installer ?? '';
  if (installer === 'anaconda') return 'kickstart';
  if (installer === 'debian-installer') return 'preseed';
  const v = (osVariant ?? media.family ?? '').toLowerCase();
  if (/^(fedora|rhel|centos|almalinux|rocky|ol|tiny)/.test(v)) return 'kickstart';
  if (/^(debian|ubuntu)/.test(v)) return 'preseed';
  return undefined;
}

function targetDisk(state: InstallState): string {
  const bus = need(state, 'request').disks[0]?.bus ?? 'virtio';
  return bus === 'virtio' ? 'vda' : 'sda';
}

interface Decision {
  family: Family;
  delivery: 'initrd' | 'oemdrv' | 'http';
  text: string;
  redacted: string;
  fileName: string;
  source: string;
  kernelArgs: string[];
}

async function decide(ctx: StageContext<InstallState>): Promise<Decision | undefined> {
  const { state, host } = ctx;
  const req = need(state, 'request');
  const media = need(state, 'media');
  if (media.boot.kind === 'disk') {
    if (req.kickstart)
      throw inputError('KICKSTART_WITHOUT_INSTALL', '--kickstart was given, but --import installs nothing', {
        hint: 'drop --kickstart, or install from --location/--cdrom',
      });
    return undefined;
  }
  let family = answerFamilyFor(media, req.osVariant);
  let text: string;
  let redacted: string;
  let source: string;
  const builtin = req.kickstart === undefined || !/[/.]/.test(req.kickstart);
  if (builtin) {
    const name =
      req.kickstart ?? (family === 'preseed' ? 'debian' : family === 'kickstart' ? 'fedora' : undefined);
    if (!name) {
      if (req.ksSet.length)
        throw inputError(
          'KICKSTART_UNKNOWN_FAMILY',
          '--ks-set was given, but no answer-file template fits this media',
          { hint: 'name one with --kickstart fedora|debian, or set --os-variant' },
        );
      return undefined; // an installer we know no answer file for: the user drives it (or --extra-args does)
    }
    const { renderKickstart } = await import('../kickstart/render.js');
    const { applySetItems } = await import('../kickstart/vars.js');
    const mac = guestNicMac(state);
    const vars: Record<string, unknown> = {
      hostname: guestHostname(req.name),
      disk: targetDisk(state),
      confirmUnit: req.confirmUnit,
      ...(mac ? { nic: { mac } } : {}),
    };
    applySetItems(vars, req.ksSet, '--ks-set');
    const rendered = await renderKickstart(name, vars, { ids: host.ids, cwd: state.cwd });
    family = rendered.template.family;
    ({ text, redacted } = rendered);
    source = `template ${rendered.template.name}`;
  } else {
    if (req.ksSet.length)
      throw inputError(
        'KICKSTART_SET_WITH_FILE',
        '--ks-set applies to built-in templates, not to a kickstart file',
        { hint: 'edit the file, or use --kickstart fedora|debian' },
      );
    const file = req.kickstart!;
    const { readRegularFile } = await import('../kickstart/read-file.js');
    const preseed = /\.(preseed|cfg)$/.test(file)
      ? await readRegularFile(file, '--kickstart').catch(() => '')
      : '';
    if (/^d-i\s/m.test(preseed)) {
      family = 'preseed';
      text = preseed;
      const { redactSecrets } = await import('../kickstart/redact.js');
      redacted = redactSecrets(text);
    } else {
      const { loadUserKickstart } = await import('../kickstart/user-kickstart.js');
      const { lintKickstart } = await import('../kickstart/lint.js');
      const user = await loadUserKickstart(file, { confirmUnit: req.confirmUnit });
      const mac = guestNicMac(state);
      const errors = lintKickstart(user.text, {
        headless: true,
        ...(mac && (state.devices ?? []).some((d) => d.mac) ? { assignedNic: { mac } } : {}),
      }).filter((f) => f.severity === 'error');
      if (errors.length) {
        const f = errors[0]!;
        throw inputError(
          'KICKSTART_LINT',
          `${req.kickstartInjectedAs ? '--initrd-inject' : '--kickstart'} ${file}:${f.line}: ${f.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
          { hint: `see install-guest kickstart lint ${file}` },
        );
      }
      family = 'kickstart';
      ({ text, redacted } = user);
    }
    source = req.kickstartInjectedAs ? `${file} (--initrd-inject, named by --extra-args)` : file;
  }
  const { answerFileName } = await import('../kickstart/render.js');
  const { chooseDelivery, kernelArgsFor } = await import('../kickstart/deliver.js');
  const delivery = chooseDelivery({
    boot: media.boot.kind === 'kernel' ? 'kernel' : 'cdrom',
    family: family,
    ...(req.kickstartDelivery ? { requested: req.kickstartDelivery } : {}),
  });
  if (delivery === 'http') {
    if (media.boot.kind !== 'kernel')
      throw inputError(
        'KICKSTART_DELIVERY',
        '--kickstart-delivery http puts the URL on the kernel command line, but this install boots a cdrom',
        { hint: "boot the media's kernel and initrd (--location), or use --kickstart-delivery oemdrv" },
      );
    if (state.libvirt && !state.libvirt.local)
      throw inputError(
        'KICKSTART_DELIVERY',
        '--kickstart-delivery http serves the answer file on this machine, which a guest on a remote libvirt host cannot reach',
        {
          hint: '--kickstart-delivery initrd (injected into the uploaded initrd) or oemdrv (an uploaded volume)',
        },
      );
    const net = state.network ?? req.network;
    if (net.kind !== 'user')
      throw inputError(
        'KICKSTART_DELIVERY',
        `--kickstart-delivery http serves the answer file on 127.0.0.1, which a guest on ${net.kind} networking cannot reach`,
        {
          hint: 'use --network user (the guest reaches the host at 10.0.2.2), or --kickstart-delivery initrd',
        },
      );
  }
  if (req.kickstartInjectedAs && delivery !== 'initrd')
    throw inputError(
      'BAD_INITRD_INJECT',
      '--initrd-inject needs a kernel and initrd boot, but this install boots a cdrom or disk',
      { hint: "use --location (the media's kernel and initrd are used) or --boot kernel=,initrd=" },
    );
  // the kickstart idiom: the file keeps the name --extra-args gives it (inst.ks=file:/NAME)
  const fileName = req.kickstartInjectedAs ?? answerFileName(family);
  return {
    family: family,
    delivery,
    text,
    redacted,
    fileName,
    source,
    kernelArgs:
      delivery === 'http'
        ? []
        : delivery === 'initrd' && family === 'kickstart'
          ? [`inst.ks=file:/${fileName}`]
          : kernelArgsFor(delivery, family),
  };
}

function withArgs(boot: BootMedia, args: string[], initrd?: string): BootMedia {
  if (boot.kind !== 'kernel') return boot;
  // merged: the user's --extra-args (already in append) keep their say; nothing appears twice
  return { ...boot, ...(initrd ? { initrd } : {}), append: addKernelArgs(boot.append, args) };
}

/**
 * The --initrd-inject files, read, and the checks that they (and an answer file delivered in the
 * initrd) have an initrd to ride in. Reads only: the real run and the dry run both call it.
 */
async function readInjected(
  paths: readonly string[],
  media: MediaState,
  d: { delivery: string } | null | undefined,
): Promise<{ name: string; data: Buffer }[]> {
  const inject = await Promise.all(
    paths.map(async (p) => ({
      name: path.basename(p),
      // a regular file only (a FIFO would hang the read), of any size an initrd takes
      data: await readRegularBytes(p, '--initrd-inject', {
        code: 'BAD_INITRD_INJECT',
        hint: 'check the path',
        maxBytes: 1024 * 1024 * 1024,
      }),
    })),
  );
  if (inject.length && media.boot.kind !== 'kernel') {
    throw inputError(
      'BAD_INITRD_INJECT',
      '--initrd-inject needs a kernel and initrd boot, but this install boots a cdrom or disk',
      { hint: "use --location (the media's kernel and initrd are used) or --boot kernel=,initrd=" },
    );
  }
  const rides = inject.length > 0 || d?.delivery === 'initrd';
  if (rides && media.boot.kind === 'kernel' && !media.boot.initrd)
    throw inputError(
      'NO_INITRD',
      'an answer file or --initrd-inject needs an initrd to ride in, but the boot has none',
      { hint: 'give --boot initrd=PATH' },
    );
  return inject;
}

export const renderKickstartStage: Stage<InstallState> = {
  name: 'render-kickstart',
  changesHost: true,
  needs: ['request', 'media', 'workDir', 'logDir'],
  async run(ctx) {
    const { state } = ctx;
    const req = need(state, 'request');
    const media = need(state, 'media');
    const d = await decide(ctx);
    const inject = await readInjected(req.initrdInject, media, d);
    if (!d && inject.length === 0) return {};
    const workDir = need(state, 'workDir');
    const out: Partial<InstallState> = {};
    const files = [...inject];
    if (d) {
      const redactedPath = path.join(need(state, 'logDir'), `${d.fileName}.redacted`);
      await writeFile(redactedPath, d.redacted, { mode: 0o600 });
      out.answerFile = {
        family: d.family,
        source: d.source,
        delivery: d.delivery,
        fileName: d.fileName,
        redactedPath,
      };
      if (d.delivery === 'initrd') files.push({ name: d.fileName, data: Buffer.from(d.text) });
      else if (d.delivery === 'http') {
        // qemu's user networking maps the guest's 10.0.2.2 to the host's 127.0.0.1
        const { serveKickstart } = await import('../kickstart/http.js');
        const { kernelArgsFor } = await import('../kickstart/deliver.js');
        const served = await serveKickstart(d.text, {
          bindAddress: '127.0.0.1',
          urlHost: '10.0.2.2',
          fileName: d.fileName,
          ids: ctx.host.ids,
          onFetch: (from) => ctx.log.info(`answer file fetched over HTTP (by ${from})`),
        });
        out.servedKickstart = served;
        const mac = guestNicMac(state);
        d.kernelArgs = kernelArgsFor('http', d.family, { url: served.url, ...(mac ? { nicMac: mac } : {}) });
        if (files.length === 0) out.media = { ...media, boot: withArgs(media.boot, d.kernelArgs) };
      } else {
        const { makeOemdrvImage } = await import('../kickstart/oemdrv.js');
        const iso = path.join(workDir, 'oemdrv.iso');
        await makeOemdrvImage(d.text, iso, { fileName: d.fileName, tmpDir: workDir });
        out.extraCdroms = [iso];
      }
    }
    if (files.length && media.boot.kind === 'kernel') {
      const { injectIntoInitrd } = await import('../kickstart/cpio.js');
      const copy = path.join(workDir, 'initrd-with-answers.img');
      await injectIntoInitrd(media.boot.initrd!, files, copy);
      out.media = { ...media, boot: withArgs(media.boot, d?.kernelArgs ?? [], copy) };
    }
    return out;
  },
  async cleanup({ state }) {
    await state.servedKickstart?.close();
  },
  async plan(ctx) {
    // rendering is pure; a dry run shows the kernel arguments and the delivery without writing files,
    // after the same input checks as the real run (the injected files are read, not written)
    const d = await decide(ctx);
    const media = need(ctx.state, 'media');
    await readInjected(need(ctx.state, 'request').initrdInject, media, d);
    if (!d) return {};
    if (d.delivery === 'http') {
      const { kernelArgsFor } = await import('../kickstart/deliver.js');
      const mac = guestNicMac(ctx.state);
      const url = `http://10.0.2.2:<port>/ks/<token>/${d.fileName}`;
      d.kernelArgs = kernelArgsFor('http', d.family, { url, ...(mac ? { nicMac: mac } : {}) });
    }
    const inInitrd = d.delivery === 'initrd' || need(ctx.state, 'request').initrdInject.length > 0;
    return {
      answerFile: { family: d.family, source: d.source, delivery: d.delivery, fileName: d.fileName },
      ...(d.delivery === 'oemdrv' ? { extraCdroms: ['<workdir>/oemdrv.iso'] } : {}),
      media: {
        ...media,
        boot: withArgs(
          media.boot,
          d.kernelArgs,
          media.boot.kind === 'kernel' && inInitrd ? '<workdir>/initrd-with-answers.img' : undefined,
        ),
      },
    };
  },
};
