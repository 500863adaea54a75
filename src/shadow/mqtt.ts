import type { TopicRequest, TopicService } from '../broker/index.js';
import {
  clientTokenIn,
  errorResponse,
  parseTokenOnlyRequest,
  parseUpdateRequest,
} from './document.js';
import { tooManyRequests } from './errors.js';
import { parseRequestTopic, topicPrefix, type ShadowId, type ShadowOperation } from './names.js';
import type { ShadowService } from './service.js';

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
      void this.reject(id, operation, request.payload, tooManyRequests());
      return;
    }
    this.inProgress.set(request.requester, inProgress + 1);
    void this.answer(id, operation, request.payload).finally(() =>
      this.inProgress.set(request.requester, (this.inProgress.get(request.requester) ?? 1) - 1),
    );
  }

  private async answer(id: ShadowId, operation: ShadowOperation, payload: Buffer): Promise<void> {
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
    } catch (error) {
      await this.reject(id, operation, payload, this.service.internalError(error, id));
    }
  }

  private async reject(
    id: ShadowId,
    operation: ShadowOperation,
    payload: Buffer,
    error: Parameters<typeof errorResponse>[0],
  ): Promise<void> {
    const document = errorResponse(error, Date.now(), clientTokenIn(payload));
    await this.publish(
      `${topicPrefix(id)}/${operation}/rejected`,
      Buffer.from(JSON.stringify(document)),
    );
  }
}
