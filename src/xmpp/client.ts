// Builds an xmpp.js client from its parts, the way @xmpp/client's own factory does, but with only what we use:
// WebSocket transport (no TCP/TLS/DNS resolution: the add-on always connects to an explicit URL), SASL with our
// one-call-PBKDF2 SCRAM ahead of PLAIN, resource binding, stream management. The same code runs in Node and in
// Thunderbird, so integration tests exercise exactly what ships (the stock browser build would drop SCRAM).
import { Client } from "@xmpp/client-core";
import websocket from "@xmpp/websocket";
import middlewareFactory, { type MiddlewareApi } from "@xmpp/middleware";
import streamFeaturesFactory from "@xmpp/stream-features";
import iqCallerFactory, { type IqCaller } from "@xmpp/iq/caller.js";
import iqCalleeFactory, { type IqCallee } from "@xmpp/iq/callee.js";
import saslFactoryCtor from "saslmechanisms";
import sasl, { type OnAuthenticate } from "@xmpp/sasl";
import plain from "@xmpp/sasl-plain";
import resourceBinding from "@xmpp/resource-binding";
import streamManagementFactory, { type StreamManagement } from "@xmpp/stream-management";
import { scramMechanism, type ScramMechanism } from "./scram.js";

export interface XmppClientParts {
  readonly entity: Client;
  readonly middleware: MiddlewareApi;
  readonly iqCaller: IqCaller;
  readonly iqCallee: IqCallee;
  readonly streamManagement: StreamManagement;
}

export interface XmppClientOptions {
  readonly service: string;
  readonly domain: string;
  readonly resource: string;
  readonly onAuthenticate: OnAuthenticate;
  /** Told about each SCRAM mechanism instance the SASL layer creates (to verify the server's final message). */
  readonly onScram?: (mechanism: ScramMechanism) => void;
}

export function createXmppClient(options: XmppClientOptions): XmppClientParts {
  const entity = new Client({ service: options.service, domain: options.domain });
  websocket({ entity });
  const middleware = middlewareFactory({ entity });
  const streamFeatures = streamFeaturesFactory({ middleware });
  const iqCaller = iqCallerFactory({ middleware, entity });
  const iqCallee = iqCalleeFactory({ middleware, entity });

  const saslFactory = new saslFactoryCtor();
  const scramOptions = options.onScram ? { onCreate: options.onScram } : {};
  saslFactory.use(scramMechanism("SCRAM-SHA-256", scramOptions));
  saslFactory.use(scramMechanism("SCRAM-SHA-1", scramOptions));
  plain(saslFactory);
  sasl({ streamFeatures, saslFactory }, options.onAuthenticate);

  const streamManagement = streamManagementFactory({ streamFeatures, entity, middleware });
  // The library waits 250 ms before asking for an ack, which makes every delivery confirmation slow.
  // 0 still coalesces a synchronous burst of sends into one <r/>.
  streamManagement.requestAckDebounce = 0;
  // The library also asks for an ack after every 30 s without inbound traffic: two wake-ups a minute on an idle
  // connection. The session's own keep-alive (a ping after 60 s of silence, answered within 15 s) checks liveness
  // once a minute instead; acks for stanzas sent are still requested at once (the debounce above).
  streamManagement.requestAckInterval = 0;
  resourceBinding({ iqCaller, streamFeatures }, options.resource);

  return { entity, middleware, iqCaller, iqCallee, streamManagement };
}
