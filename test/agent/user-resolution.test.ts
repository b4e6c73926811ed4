import { describe, expect, it, vi } from 'vitest';
import {
  USER_ID_ATTRIBUTE,
  UserResolutionError,
  resolveUser,
  userIdFromAttributes,
  userIdFromJobMetadata,
  type ParticipantLike,
} from '../../agent/user-resolution.js';

function source(metadata: string, participant?: ParticipantLike) {
  return {
    job: { metadata },
    waitForParticipant: vi.fn(async () => {
      if (!participant) throw new Error('Room disconnected while waiting for participant');
      return participant;
    }),
  };
}

describe('userIdFromJobMetadata', () => {
  it('reads the user id of an explicit dispatch', () => {
    expect(userIdFromJobMetadata('{"userId": 42}')).toBe(42);
  });

  it('accepts a user id written as a string of digits', () => {
    expect(userIdFromJobMetadata('{"userId": "7"}')).toBe(7);
  });

  it('finds no user in empty, non-JSON or userless metadata', () => {
    expect(userIdFromJobMetadata('')).toBeUndefined();
    expect(userIdFromJobMetadata(undefined)).toBeUndefined();
    expect(userIdFromJobMetadata('just a note')).toBeUndefined();
    expect(userIdFromJobMetadata('{"room": "x"}')).toBeUndefined();
    expect(userIdFromJobMetadata('[1, 2]')).toBeUndefined();
  });

  it('rejects a user id that is not a positive integer', () => {
    for (const bad of ['{"userId": 0}', '{"userId": -3}', '{"userId": 1.5}', '{"userId": "x"}']) {
      expect(() => userIdFromJobMetadata(bad)).toThrow(UserResolutionError);
    }
    expect(() => userIdFromJobMetadata('{"userId": null}')).toThrow(/not a positive integer/);
  });
});

describe('userIdFromAttributes', () => {
  it('reads the switchboard.userId attribute', () => {
    expect(userIdFromAttributes({ [USER_ID_ATTRIBUTE]: '12' })).toBe(12);
  });

  it('finds no user when the attribute is missing or empty', () => {
    expect(userIdFromAttributes({ other: '1' })).toBeUndefined();
    expect(userIdFromAttributes({ [USER_ID_ATTRIBUTE]: ' ' })).toBeUndefined();
  });

  it('names the participant when the attribute is malformed', () => {
    expect(() => userIdFromAttributes({ [USER_ID_ATTRIBUTE]: 'abc' }, 'alice')).toThrow(
      /participant alice's switchboard\.userId attribute/,
    );
  });
});

describe('resolveUser', () => {
  it('uses the job metadata without waiting for a participant', async () => {
    const src = source('{"userId": 5}');
    await expect(resolveUser(src)).resolves.toEqual({ userId: 5, source: 'metadata' });
    expect(src.waitForParticipant).not.toHaveBeenCalled();
  });

  it("takes the user's token from the dispatch metadata, never from participant attributes", async () => {
    await expect(resolveUser(source('{"userId": 5, "userToken": "ut-123"}'))).resolves.toEqual({
      userId: 5,
      source: 'metadata',
      userToken: 'ut-123',
    });
    const fromRoom = await resolveUser(
      source('', {
        identity: 'user-9',
        attributes: { [USER_ID_ATTRIBUTE]: '9', 'switchboard.userToken': 'visible-to-all' },
      }),
    );
    expect(fromRoom).toEqual({ userId: 9, source: 'participant' });
    expect(fromRoom.userToken).toBeUndefined();
  });

  it('falls back to the first participant attribute when the metadata names no user', async () => {
    const src = source('', { identity: 'user-9', attributes: { [USER_ID_ATTRIBUTE]: '9' } });
    await expect(resolveUser(src)).resolves.toEqual({ userId: 9, source: 'participant' });
    expect(src.waitForParticipant).toHaveBeenCalledOnce();
  });

  it("refuses a participant attribute naming a user whose identity the participant doesn't have", async () => {
    // Bob (user-3), able to set his own attributes, names Alice (9) to get her tools.
    for (const identity of ['user-3', 'alice', 'user-90', 'user-9 ']) {
      const src = source('', { identity, attributes: { [USER_ID_ATTRIBUTE]: '9' } });

      const failure = await resolveUser(src).catch((error: unknown) => error);

      expect(failure, identity).toBeInstanceOf(UserResolutionError);
      expect(failure).toMatchObject({ code: 'identity_mismatch' });
      expect((failure as Error).message).toContain(`Participant ${identity}'s switchboard.userId`);
      expect((failure as Error).message).toContain('whose identity is user-9');
    }
  });

  it('fails clearly when neither the metadata nor the participant names a user', async () => {
    const src = source('{"note": "hi"}', { identity: 'bob', attributes: {} });
    const failure = await resolveUser(src).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UserResolutionError);
    expect(failure).toMatchObject({ code: 'no_user' });
    expect((failure as Error).message).toMatch(
      /no userId.*participant bob has no switchboard\.userId/,
    );
  });

  it('does not fall back to the participant when the metadata user id is malformed', async () => {
    const src = source('{"userId": "abc"}', {
      identity: 'alice',
      attributes: { [USER_ID_ATTRIBUTE]: '9' },
    });
    await expect(resolveUser(src)).rejects.toMatchObject({ code: 'invalid_user_id' });
    expect(src.waitForParticipant).not.toHaveBeenCalled();
  });

  it('passes on the failure to find a participant', async () => {
    await expect(resolveUser(source(''))).rejects.toThrow(/Room disconnected/);
  });
});
