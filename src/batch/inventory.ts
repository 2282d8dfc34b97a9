/**
 * `--inventory FILE`: the device pool as data, for planning against a captured or imagined host (and,
 * until the PCI inventory reads the host itself, for running a batch that assigns devices). A JSON
 * list of `{ address, vendorDevice, class, iommuGroup, interfaces? }`, as the inventory produces.
 */
import { readRegularFile } from '../kickstart/read-file.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { inputError } from '../errors.js';
import type { PoolDevice } from './pool.js';

const schema = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['address', 'vendorDevice', 'class', 'iommuGroup'],
    properties: {
      address: { type: 'string', pattern: '^([0-9a-fA-F]{4,}:)?[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\\.[0-7]$' },
      vendorDevice: { type: 'string', pattern: '^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$' },
      class: { type: 'string', pattern: '^(0x)?[0-9a-fA-F]{6}$' },
      iommuGroup: { type: ['string', 'null'], pattern: '^[0-9]+$' },
      interfaces: { type: 'array', items: { type: 'string' } },
    },
  },
};

/** Pure: checks an inventory value; errors name the entry (`[2].class: …`). */
export function parseInventory(value: unknown, source: string): PoolDevice[] {
  const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
  const validate = ajv.compile<PoolDevice[]>(schema);
  if (!validate(value)) {
    const errors = (validate.errors ?? []).map((e) => {
      const where = e.instancePath.replace(/^\/(\d+)/, '[$1]').replace(/\//g, '.');
      return `${where || '(top)'} ${e.message ?? e.keyword}`;
    });
    throw inputError('BAD_INVENTORY', `inventory '${source}': ${errors.join('; ')}`, {
      hint: 'a JSON list of { "address": "0000:03:00.0", "vendorDevice": "8086:10d3", "class": "0x020000", "iommuGroup": "7" }',
    });
  }
  return value;
}

export async function readInventory(file: string): Promise<PoolDevice[]> {
  // a regular file only: a FIFO or a device would hang the read
  const text = await readRegularFile(file, '--inventory', {
    code: 'INVENTORY_NOT_FOUND',
    hint: 'check the path',
    maxBytes: 64 * 1024 * 1024,
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw inputError('BAD_INVENTORY', `inventory '${file}' is not JSON: ${(e as Error).message}`, {
      hint: 'a JSON list of devices',
    });
  }
  return parseInventory(value, file);
}
