/**
 * Onboarding's expression encoder option (issue 16): VOXFACE_ONBOARDING_TRAIN_ENCODER=1
 * makes the queue train each avatar with `--encoder`; it is off by default (the encoder
 * becomes the default only if the six-clip comparison justifies it, docs/fidelity.md).
 * The trainer here is a stand-in script that records its arguments and refuses the job,
 * so only the queue's command line is under test (the real `train --encoder` is
 * test/engine/encoderCli.test.ts's).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AvatarStore } from '../../server/avatar/AvatarStore';
import { loadConfig } from '../../server/config';
import { TrainingQueue } from '../../server/onboarding/TrainingQueue';

process.env.VOXFACE_QUIET ??= '1';
const root = mkdtempSync(join(tmpdir(), 'voxface-onboarding-encoder-'));
const queues: TrainingQueue[] = [];

after(async () => {
  for (const queue of queues) await queue.close();
  rmSync(root, { recursive: true, force: true });
});

/** The arguments the queue starts its trainer with for a job of `options`. */
async function trainerArguments(name: string, encoder: boolean | undefined): Promise<string[]> {
  const argsFile = join(root, `${name}.json`), script = join(root, `${name}.mjs`);
  writeFileSync(script, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(argsFile)}, JSON.stringify(process.argv.slice(2)));\nprocess.exit(2);\n`);
  const queue = new TrainingQueue({
    dir: join(root, name), store: new AvatarStore(join(root, 'avatars')), maxAttempts: 1, niceness: 0, trainerCommand: [process.execPath, script],
  });
  queues.push(queue);
  const options = { minutes: 0.2, res: 32, model: 'small' as const, ...(encoder === undefined ? {} : { encoder }) };
  const job = queue.enqueue({ owner: 'alice', avatarId: `av-${name}`, dataset: join(root, 'no-dataset'), options });
  const finished = queue.waitFor('finished', 30_000, (e) => e.job.id === job.id);
  await queue.start();
  await finished;
  return JSON.parse(readFileSync(argsFile, 'utf8')) as string[];
}

test('the onboarding encoder option is off unless VOXFACE_ONBOARDING_TRAIN_ENCODER=1', () => {
  assert.equal(loadConfig({}).onboardingTraining.encoder, false);
  assert.equal(loadConfig({ VOXFACE_ONBOARDING_TRAIN_ENCODER: '1' }).onboardingTraining.encoder, true);
});

test('a job with the encoder option trains with --encoder; one without it, or from before the option, does not', async () => {
  assert.ok((await trainerArguments('with', true)).includes('--encoder'));
  assert.ok(!(await trainerArguments('without', false)).includes('--encoder'));
  const old = await trainerArguments('old', undefined);
  assert.ok(!old.includes('--encoder') && old.includes('--model'), old.join(' '));
});
