import { Verbosity, type TopicRequest, type TopicService } from '../broker/index.js';
import {
  clientTokenIn,
  errorResponse,
  parseTokenOnlyRequest,
  parseUpdateRequest,
} from './document.js';
import { tooManyRequests, type ShadowError } from './errors.js';
import { parseRequestTopic, topicPrefix, type ShadowId, type ShadowOperation } from './names.js';
import type { ShadowService } from './service.js';

/** The device log's eventType of each request, as AWS IoT names shadow entries. */
const EVENT_TYPES = {
  get: 'GetThingShadow',
  update: 'UpdateThingShadow',
  delete: 'DeleteThingShadow',
} as const;

/**
 * The shadow service's MQTT face (aws-iot-behaviour §5.1): requests published on
 * `…/shadow[/name/N]/{get,update,delete}` are answered on `…/accepted` and `…/rejected` (and
 * `/update/delta`, `/update/documents`), to subscribers only. A connection may have at most
 * `maxInflight` requests in progress; more are rejected with 429, as AWS does.
 */
export class ShadowTopics implements TopicService {
  private readonly inProgress = new WeakMap<object, number>();

  constructor(
    private readonly service: ShadowService,
    private readonly publish: (topic: string, payload: Buffer) => Promise<void>,
    private readonly maxInflight: number,
  ) {}

  accepts(topic: string): boolean {
    return parseRequestTopic(topic) !== undefined;
  }

  request(request: TopicRequest): void {
    const parsed = parseRequestTopic(request.topic);
    if (!parsed) return;
    const { id, operation } = parsed;
    const inProgress = this.inProgress.get(request.requester) ?? 0;
    if (inProgress >= this.maxInflight) {
      void this.reject(request, id, operation, tooManyRequests());
      return;
    }
    this.inProgress.set(request.requester, inProgress + 1);
    void this.answer(request, id, operation).finally(() =>
      this.inProgress.set(request.requester, (this.inProgress.get(request.requester) ?? 1) - 1),
    );
  }

  private async answer(
    request: TopicRequest,
    id: ShadowId,
    operation: ShadowOperation,
  ): Promise<void> {
    const { payload } = request;
    try {
      if (operation === 'update') {
        await this.service.update(id, parseUpdateRequest(payload, this.service.limits));
      } else if (operation === 'delete') {
        await this.service.delete(id, parseTokenOnlyRequest(payload).clientToken);
      } else {
        const document = await this.service.get(id, parseTokenOnlyRequest(payload).clientToken);
        await this.publish(
          `${topicPrefix(id)}/get/accepted`,
          Buffer.from(JSON.stringify(document)),
        );
      }
      request.report?.({
        eventType: EVENT_TYPES[operation],
        level: Verbosity.DEBUG,
        status: 'Success',
        topicName: request.topic,
        deviceShadowName: id.thingName,
      });
    } catch (error) {
      await this.reject(request, id, operation, this.service.internalError(error, id));
    }
  }

  private async reject(
    request: TopicRequest,
    id: ShadowId,
    operation: ShadowOperation,
    error: ShadowError,
  ): Promise<void> {
    request.report?.({
      eventType: EVENT_TYPES[operation],
      level: Verbosity.ERROR,
      status: 'Failure',
      topicName: request.topic,
      deviceShadowName: id.thingName,
      reason: String(error.status),
      details: error.message,
    });
    const document = errorResponse(error, Date.now(), clientTokenIn(request.payload));
    await this.publish(
      `${topicPrefix(id)}/${operation}/rejected`,
      Buffer.from(JSON.stringify(document)),
    );
  }
}
