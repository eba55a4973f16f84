import type { ServiceDefinition } from "./types.js";
import { CONTAINER_REGISTRY } from "./services/acr.js";
import { AI_FOUNDRY, OPENAI } from "./services/ai.js";
import { BATCH } from "./services/batch.js";
import { APP_CONFIGURATION } from "./services/appconfig.js";
import { ARM } from "./services/arm.js";
import { COSMOS } from "./services/cosmos.js";
import { MYSQL, POSTGRES, SQL } from "./services/databases.js";
import { EVENT_GRID, EVENT_GRID_NAMESPACES } from "./services/eventgrid.js";
import { GRAPH } from "./services/graph.js";
import { KEY_VAULT, MANAGED_HSM } from "./services/keyvault.js";
import { DATA_EXPLORER } from "./services/kusto.js";
import { LOG_ANALYTICS } from "./services/loganalytics.js";
import { EVENT_HUBS, SERVICE_BUS } from "./services/messaging.js";
import { MONITOR } from "./services/monitor.js";
import { REDIS } from "./services/redis.js";
import { SEARCH } from "./services/search.js";
import { SIGNALR, WEB_PUBSUB } from "./services/signalr.js";
import { STORAGE } from "./services/storage.js";

export { AMQP_ERROR_NAMES, GENERIC_FINGERPRINTS, GENERIC_QUOTES, GUID_PATTERN, REQUEST_ID_EVIDENCE_HEADERS } from "./services/shared.js";

/**
 * The service catalog: one entry per Azure service. Facts from ../shared/research/service-errors.md.
 * Audiences are normalized (lower case, no trailing slash). Fingerprint messages are matched against a
 * whitespace-folded text (messages, challenge description, body), with the `i` flag.
 *
 * Data only: the classifier has no per-service code. Adding a service is adding one entry (and its tests): the entries
 * live in ./services/, one module per service family; this list decides their order (the first match wins).
 *
 * Hosts shared by two services: Service Bus and Event Hubs both live on `*.servicebus.windows.net` (and its
 * sovereign twins). Both entries list the suffix; the classifier tells them apart by, in order, the token's
 * audience (servicebus.azure.net vs eventhubs.azure.net), the challenge's resource, `pathHints` (Event Hubs
 * `/partitions/`, `/consumergroups/`, `/publishers/`; Service Bus `/subscriptions/`, `/messages/head`,
 * `$deadletterqueue`), SDK error names ("ServiceBusError"); failing all that it picks the first (Service Bus),
 * says so in the evidence and names the Event Hubs role as the alternative.
 *
 * The built-in services: how each is recognised (hosts, audiences), which scope to request, its roles and its known
 * error answers. Read-only; extend it with the `services` option.
 */
export const SERVICE_CATALOG: readonly ServiceDefinition[] = [
  KEY_VAULT,
  MANAGED_HSM,
  STORAGE,
  SERVICE_BUS,
  EVENT_HUBS,
  COSMOS,
  GRAPH,
  ARM,
  APP_CONFIGURATION,
  SQL,
  POSTGRES,
  MYSQL,
  REDIS,
  OPENAI,
  EVENT_GRID,
  MONITOR,
  CONTAINER_REGISTRY,
  SEARCH,
  LOG_ANALYTICS,
  AI_FOUNDRY,
  DATA_EXPLORER,
  SIGNALR,
  WEB_PUBSUB,
  BATCH,
  EVENT_GRID_NAMESPACES,
];
