/**
 * The models a session talks through: the OpenAI realtime model when its endpoint accepts a
 * session, otherwise a pipeline of the OpenAI plugin's STT, LLM and TTS (LiveKit Agents docs,
 * "Voice pipeline" and "Realtime models"), so a session still works when realtime is down,
 * rate limited or not offered by a proxy. The check runs while the MCP servers connect, so it
 * adds no start latency.
 */
import type { llm, stt, tts } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import type { Logger } from '../shared/logger.js';
import { checkRealtimeEndpoint, type RealtimeCheckResult } from '../shared/realtime-check.js';
import type { Settings } from '../shared/settings.js';

/** What a `voice.AgentSession` is built with, and which of the two it is. */
export interface SessionModels {
  /** `realtime`: the realtime model; `pipeline`: STT, LLM and TTS; `custom`: injected (tests). */
  mode: 'realtime' | 'pipeline' | 'custom';
  llm: llm.LLM | llm.RealtimeModel;
  stt?: stt.STT;
  tts?: tts.TTS;
  /** Why the realtime model is not used (`pipeline` only). */
  fallbackReason?: string;
}

/**
 * The OpenAI realtime model configured from the settings.
 *
 * @param settings `OPENAI_REALTIME_MODEL`, `OPENAI_VOICE`, `OPENAI_TEMPERATURE` (0–2, ignored
 *   by the GA realtime API but passed through), `OPENAI_API_KEY`, `OPENAI_BASE_URL`.
 * @throws Error from the plugin when no API key is available.
 */
export function createRealtimeModel(settings: Settings): openai.realtime.RealtimeModel {
  return new openai.realtime.RealtimeModel({
    model: settings.OPENAI_REALTIME_MODEL,
    voice: settings.OPENAI_VOICE,
    temperature: settings.OPENAI_TEMPERATURE,
    apiKey: settings.OPENAI_API_KEY,
    baseURL: settings.OPENAI_BASE_URL,
  });
}

/**
 * The fallback pipeline: `openai.STT` (`OPENAI_STT_MODEL`, default `gpt-4o-mini-transcribe`,
 * over HTTP `/audio/transcriptions`, not the realtime WebSocket, so it does not depend on the
 * endpoint that just failed; the session's default VAD cuts the turns), `openai.LLM`
 * (`OPENAI_LLM_MODEL`, default `gpt-4.1-mini`, with `OPENAI_TEMPERATURE`) and `openai.TTS`
 * (`OPENAI_TTS_MODEL`, default `gpt-4o-mini-tts`, voice `OPENAI_TTS_VOICE`, default `coral`),
 * all with `OPENAI_API_KEY` and `OPENAI_BASE_URL`.
 *
 * @throws Error from the plugin when no API key is available.
 */
export function createPipelineModels(settings: Settings): {
  stt: openai.STT;
  llm: openai.LLM;
  tts: openai.TTS;
} {
  const auth = { apiKey: settings.OPENAI_API_KEY, baseURL: settings.OPENAI_BASE_URL };
  return {
    stt: new openai.STT({ ...auth, model: settings.OPENAI_STT_MODEL, useRealtime: false }),
    llm: new openai.LLM({
      ...auth,
      model: settings.OPENAI_LLM_MODEL,
      temperature: settings.OPENAI_TEMPERATURE,
    }),
    tts: new openai.TTS({
      ...auth,
      model: settings.OPENAI_TTS_MODEL,
      // The plugin's voice type lists older voices only; the API takes any of its voice names.
      voice: settings.OPENAI_TTS_VOICE as openai.TTSOptions['voice'],
    }),
  };
}

/** A model choice started ahead of time; {@link SessionModelChoice.build} finishes it. */
export interface SessionModelChoice {
  /**
   * Waits for the realtime check (if any) and builds the models; logs a warning when it falls
   * back to the pipeline.
   *
   * @throws Error from the plugin when no API key is available, or whatever `createModel` throws.
   */
  build(): Promise<SessionModels>;
}

/** Options of {@link chooseSessionModels}. */
export interface ChooseSessionModelsOptions {
  settings: Settings;
  logger: Logger;
  /** An injected model (tests); when set, nothing is checked and it is used as is. */
  createModel?: () => llm.LLM | llm.RealtimeModel;
  /** The endpoint check; default {@link checkRealtimeEndpoint}. */
  checkRealtime?: typeof checkRealtimeEndpoint;
}

/**
 * Starts choosing the session's models now: checks that the realtime endpoint accepts a
 * session (`AGENT_REALTIME_CHECK_TIMEOUT_MS`, default 3000 ms; the same URL and key the plugin
 * uses, see `shared/realtime-check.ts`) in the background. Call `build()` when the agent is
 * ready to start: realtime when the check passed, otherwise the pipeline of
 * {@link createPipelineModels} with a `warn` line `realtime model unavailable, using the
 * STT-LLM-TTS pipeline` carrying the reason. The check never rejects, so starting it early
 * cannot produce an unhandled rejection.
 */
export function chooseSessionModels(options: ChooseSessionModelsOptions): SessionModelChoice {
  const { settings, logger, createModel } = options;
  if (createModel) return { build: async () => ({ mode: 'custom', llm: createModel() }) };
  // Without a key neither choice can work: the realtime model's constructor says why.
  if (!settings.OPENAI_API_KEY) {
    return { build: async () => ({ mode: 'realtime', llm: createRealtimeModel(settings) }) };
  }
  const check: Promise<RealtimeCheckResult> = (options.checkRealtime ?? checkRealtimeEndpoint)({
    apiKey: settings.OPENAI_API_KEY,
    baseUrl: settings.OPENAI_BASE_URL,
    model: settings.OPENAI_REALTIME_MODEL,
    timeoutMs: settings.AGENT_REALTIME_CHECK_TIMEOUT_MS,
  });
  return {
    build: async () => {
      const result = await check;
      if (result.ok) {
        logger.info(
          { model: settings.OPENAI_REALTIME_MODEL, latencyMs: result.latencyMs },
          'realtime model available',
        );
        return { mode: 'realtime', llm: createRealtimeModel(settings) };
      }
      logger.warn(
        {
          realtimeModel: settings.OPENAI_REALTIME_MODEL,
          reason: result.reason,
          stt: settings.OPENAI_STT_MODEL,
          llm: settings.OPENAI_LLM_MODEL,
          tts: settings.OPENAI_TTS_MODEL,
        },
        'realtime model unavailable, using the STT-LLM-TTS pipeline',
      );
      return { mode: 'pipeline', ...createPipelineModels(settings), fallbackReason: result.reason };
    },
  };
}
