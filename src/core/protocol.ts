// Wire-level constants (namespaces, caps node, client name) shared by src/xmpp and core/caps.ts.
// Our own namespace (urn:xmpp: is reserved for the XSF), versioned in its last path segment.
export const NS_MAIL = "https://mailoverxmpp.net/protocol/mail/0";
/** The end-to-end encrypted mail payload of protocol version 1 (docs/protocol.md §10.4); NS_MAIL stays the PEP node. */
export const NS_MAIL1 = "https://mailoverxmpp.net/protocol/mail/1";
export const CAPS_NODE = "https://mailoverxmpp.net/thunderbird";
export const CLIENT_NAME = "Mail over XMPP for Thunderbird";

/** Message Carbons (XEP-0280). */
export const NS_CARBONS = "urn:xmpp:carbons:2";
/** Stanza Forwarding (XEP-0297), the wrapper of carbons and MAM results. */
export const NS_FORWARD = "urn:xmpp:forward:0";

/** The add-on's own exchange between the Thunderbirds of one account (src/xmpp/siblings.ts). */
export const NS_SIBLING = "https://mailoverxmpp.net/protocol/sibling/0";
