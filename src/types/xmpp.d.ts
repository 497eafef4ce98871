// Minimal, accurate typings for the parts of xmpp.js 0.14 (no bundled types) that src/xmpp uses.
// Checked against node_modules/@xmpp/*/index.js and node_modules/ltx/lib/Element.js.

declare module "@xmpp/xml" {
  export type Child = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string | number | undefined>);
    name: string;
    attrs: Record<string, string | undefined>;
    children: Child[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getNS(): string | undefined;
    getName(): string;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getChildByAttr(attr: string, value: string, xmlns?: string, recursive?: boolean): Element | undefined;
    text(): string;
    attr(name: string): string | undefined;
    append(...children: Array<Child | undefined | null | false>): this;
    c(name: string, attrs?: Record<string, string>): Element;
    toString(): string;
    clone(): Element;
  }
  export class Parser {
    on(event: "element" | "start" | "end", listener: (el: Element) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    write(data: string): void;
    end(data?: string): void;
  }
  type XmlChild = Child | undefined | null | false | XmlChild[];
  function xml(name: string, attrs?: Record<string, string | number | undefined> | null, ...children: XmlChild[]): Element;
  namespace xml {
    export { Element };
  }
  export default xml;
}

declare module "@xmpp/jid" {
  export interface JID {
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(): string;
    equals(other: JID): boolean;
  }
  function jid(address: string): JID;
  function jid(local: string | null, domain: string, resource?: string): JID;
  export default jid;
}

declare module "@xmpp/events" {
  import type { Element } from "@xmpp/xml";
  export class EventEmitter {
    on(event: string, listener: (...args: never[]) => void): this;
    once(event: string, listener: (...args: never[]) => void): this;
    off(event: string, listener: (...args: never[]) => void): this;
    removeListener(event: string, listener: (...args: never[]) => void): this;
    removeAllListeners(event?: string): this;
    emit(event: string, ...args: unknown[]): boolean;
  }
  export function procedure<T>(
    entity: unknown,
    stanza: Element | null,
    handler: (element: Element, done: (value: T) => void) => unknown,
  ): Promise<T>;
}

declare module "@xmpp/client-core" {
  import type { Element } from "@xmpp/xml";
  import type { JID } from "@xmpp/jid";
  import { EventEmitter } from "@xmpp/events";
  export type EntityStatus =
    | "offline" | "connecting" | "connect" | "opening" | "open" | "online"
    | "closing" | "close" | "disconnecting" | "disconnect";
  export interface ClientOptions { service?: string; domain?: string; lang?: string; timeout?: number }
  export class Client extends EventEmitter {
    constructor(options: ClientOptions);
    options: ClientOptions;
    status: EntityStatus;
    jid: JID | null;
    socket: unknown;
    transports: unknown[];
    timeout: number;
    connect(service: string): Promise<void>;
    open(options: { domain: string; lang?: string }): Promise<Element>;
    start(): Promise<JID>;
    stop(): Promise<void>;
    disconnect(timeout?: number): Promise<void>;
    restart(): Promise<void>;
    send(element: Element): Promise<void>;
    sendMany(elements: Element[]): Promise<void>;
    isSecure(): boolean;
  }
}

declare module "@xmpp/websocket" {
  import type { Client } from "@xmpp/client-core";
  export default function websocket(deps: { entity: Client }): void;
}

declare module "@xmpp/middleware" {
  import type { Client } from "@xmpp/client-core";
  import type { Element } from "@xmpp/xml";
  export interface Context {
    stanza: Element;
    entity: Client;
    name: string;
    id: string;
    type: string;
    from: unknown;
    to: unknown;
    element?: Element;
  }
  export type Next = () => Promise<unknown>;
  export type Middleware = (ctx: Context, next: Next) => unknown;
  export interface MiddlewareApi {
    use(fn: Middleware): Middleware;
    filter(fn: Middleware): Middleware;
  }
  export default function middleware(deps: { entity: Client }): MiddlewareApi;
}

declare module "@xmpp/stream-features" {
  import type { MiddlewareApi } from "@xmpp/middleware";
  import type { Client } from "@xmpp/client-core";
  import type { Element } from "@xmpp/xml";
  export interface StreamFeatures {
    use(name: string, xmlns: string, handler: (ctx: { entity: Client }, next: () => Promise<unknown>, feature: Element) => unknown): void;
  }
  export default function streamFeatures(deps: { middleware: MiddlewareApi }): StreamFeatures;
}

declare module "@xmpp/iq/caller.js" {
  import type { MiddlewareApi } from "@xmpp/middleware";
  import type { Client } from "@xmpp/client-core";
  import type { Element } from "@xmpp/xml";
  export interface IqCaller {
    request(stanza: Element, timeout?: number): Promise<Element>;
  }
  export default function iqCaller(deps: { middleware: MiddlewareApi; entity: Client }): IqCaller;
}

declare module "@xmpp/iq/callee.js" {
  import type { MiddlewareApi, Context } from "@xmpp/middleware";
  import type { Client } from "@xmpp/client-core";
  import type { Element } from "@xmpp/xml";
  export type IqHandler = (ctx: Context & { element: Element }) => Element | Record<string, never> | Promise<Element | Record<string, never>>;
  export interface IqCallee {
    get(ns: string, name: string, handler: IqHandler): void;
    set(ns: string, name: string, handler: IqHandler): void;
  }
  export default function iqCallee(deps: { middleware: MiddlewareApi; entity: Client }): IqCallee;
}

declare module "saslmechanisms" {
  export default class SASLFactory {
    use(mech: new () => unknown): this;
    use(name: string, mech: new () => unknown): this;
    create(names: string[]): unknown;
  }
}

declare module "@xmpp/sasl" {
  import type { StreamFeatures } from "@xmpp/stream-features";
  import type SASLFactory from "saslmechanisms";
  import type { Client } from "@xmpp/client-core";
  export type Authenticate = (credentials: object, mechanism: string) => Promise<void>;
  export type OnAuthenticate = (authenticate: Authenticate, mechanisms: string[], fast: null, entity: Client) => Promise<void>;
  export default function sasl(deps: { streamFeatures: StreamFeatures; saslFactory: SASLFactory }, onAuthenticate: OnAuthenticate): void;
}

declare module "@xmpp/sasl/lib/SASLError.js" {
  export default class SASLError extends Error {
    condition: string;
    text: string;
  }
}

declare module "@xmpp/sasl-plain" {
  import type SASLFactory from "saslmechanisms";
  export default function plain(factory: SASLFactory): void;
}

declare module "@xmpp/resource-binding" {
  import type { StreamFeatures } from "@xmpp/stream-features";
  import type { IqCaller } from "@xmpp/iq/caller.js";
  export default function resourceBinding(deps: { streamFeatures: StreamFeatures; iqCaller: IqCaller }, resource?: string | (() => string | Promise<string>)): void;
}

declare module "@xmpp/stream-management" {
  import type { StreamFeatures } from "@xmpp/stream-features";
  import type { MiddlewareApi } from "@xmpp/middleware";
  import type { Client } from "@xmpp/client-core";
  import type { Element } from "@xmpp/xml";
  import { EventEmitter } from "@xmpp/events";
  export const NS: string;
  export interface StreamManagement extends EventEmitter {
    enabled: boolean;
    enableSent: boolean;
    id: string;
    outbound: number;
    inbound: number;
    outbound_q: Array<{ stanza: Element; stamp: string }>;
    max: string | null;
    preferredMaximum: number | null;
    timeout: number;
    requestAckInterval: number;
    requestAckDebounce: number;
    on(event: "ack" | "fail", listener: (stanza: Element) => void): this;
    on(event: "resumed", listener: () => void): this;
  }
  export default function streamManagement(deps: {
    streamFeatures: StreamFeatures;
    entity: Client;
    middleware: MiddlewareApi;
    bind2?: unknown;
    sasl2?: unknown;
  }): StreamManagement;
}

declare module "@xmpp/error" {
  export default class XMPPError extends Error {
    condition: string;
    text: string;
  }
}
