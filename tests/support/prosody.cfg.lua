-- Private Prosody for the integration/e2e test suites.
--
-- One config file for every test run: everything that differs between runs comes from
-- environment variables set by tests/support/prosody.ts (Prosody exposes the environment
-- variable FOO as ENV_FOO here). Do not use this for anything but tests: it runs as root if
-- started as root, accepts plain-text WebSocket connections and listens on loopback only.
--
--   MOX_PROSODY_DIR            private temp dir (data/, prosody.pid, prosody.log, plugins/)  [required]
--   MOX_PROSODY_HTTP_PORT      HTTP port (WebSocket at /xmpp-websocket, file upload)        [required]
--   MOX_PROSODY_C2S_PORT       plain XMPP c2s port                                           [required]
--   MOX_PROSODY_DOMAIN         XMPP domain (default "localhost")
--   MOX_PROSODY_LOG_LEVEL      minimum log level (default "info")
--   MOX_PROSODY_SM_TIMEOUT     smacks_hibernation_time in seconds (default 20)
--   MOX_PROSODY_RATE_LIMIT     mod_limits c2s rate such as "10kb/s"; empty = mod_limits off
--   MOX_PROSODY_MAM            "1" = load mod_mam with in-memory archive storage
--   MOX_PROSODY_UPLOAD         "1" = mod_http_file_share on component "upload.<domain>"
--   MOX_PROSODY_UPLOAD_LIMIT   http_file_share_size_limit in bytes (default: Prosody's, 10 MiB)
--   MOX_PROSODY_UPLOAD_QUOTA   http_file_share_daily_quota per user in bytes (default: Prosody's, 10 × the limit)
--   MOX_PROSODY_UPLOAD_URL     http_external_url of the upload component (e.g. a relay in front of the HTTP port)
--   MOX_PROSODY_EXTRA_MODULES  comma separated extra modules for the virtual host
--   MOX_PROSODY_WITHOUT_MODULES comma separated modules to leave out ("offline" is disabled, the rest not loaded)
--   MOX_PROSODY_HTTPS_PORT     HTTPS port (WebSocket and upload over TLS); empty = no HTTPS
--   MOX_PROSODY_TLS_CERT       certificate (PEM) served on the HTTPS port  [required with MOX_PROSODY_HTTPS_PORT]
--   MOX_PROSODY_TLS_KEY        its private key (PEM)                        [required with MOX_PROSODY_HTTPS_PORT]
--   MOX_PROSODY_READY_TOKEN    text served by GET /xmpp-websocket, lets the harness tell its
--                              own server from whatever else might answer on the port
--   MOX_PROSODY_PARENT_PID     pid of the test process; with the generated mod_mox_watchdog
--                              Prosody shuts itself down once that process is gone

local function required(name, value)
	if value == nil or value == "" then
		error("tests/support/prosody.cfg.lua: environment variable " .. name .. " is not set (start Prosody through tests/support/prosody.ts)", 0)
	end
	return value
end

local dir = required("MOX_PROSODY_DIR", ENV_MOX_PROSODY_DIR)
local http_port = tonumber(required("MOX_PROSODY_HTTP_PORT", ENV_MOX_PROSODY_HTTP_PORT))
local c2s_port = tonumber(required("MOX_PROSODY_C2S_PORT", ENV_MOX_PROSODY_C2S_PORT))
local domain = ENV_MOX_PROSODY_DOMAIN or "localhost"
if domain == "" then domain = "localhost" end
local log_level = ENV_MOX_PROSODY_LOG_LEVEL or "info"
if log_level == "" then log_level = "info" end
local sm_timeout = tonumber(ENV_MOX_PROSODY_SM_TIMEOUT or "") or 20
local rate_limit = ENV_MOX_PROSODY_RATE_LIMIT or ""
local want_mam = ENV_MOX_PROSODY_MAM == "1"
local want_upload = ENV_MOX_PROSODY_UPLOAD == "1"
local parent_pid = tonumber(ENV_MOX_PROSODY_PARENT_PID or "")
local https_port = tonumber(ENV_MOX_PROSODY_HTTPS_PORT or "")
local tls_cert, tls_key
if https_port then
	tls_cert = required("MOX_PROSODY_TLS_CERT", ENV_MOX_PROSODY_TLS_CERT)
	tls_key = required("MOX_PROSODY_TLS_KEY", ENV_MOX_PROSODY_TLS_KEY)
end

-- Process ------------------------------------------------------------------------------------

run_as_root = true -- CI runs as root; Prosody otherwise refuses to start (or switches user)
data_path = dir .. "/data"
pidfile = dir .. "/prosody.pid"
plugin_paths = { dir .. "/plugins" }
certificates = dir .. "/certs"
log = {
	{ levels = { min = log_level }, to = "file", filename = dir .. "/prosody.log" };
}

-- Network: loopback only, two listening ports, nothing else ---------------------------------

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
https_interfaces = { "127.0.0.1" }
c2s_ports = { c2s_port }
http_ports = { http_port }
-- HTTPS only when a test asks for TLS (then the clients use it; the plain port stays for the harness).
https_ports = https_port and { https_port } or {}
if https_port then
	https_ssl = { certificate = tls_cert; key = tls_key; }
end
c2s_direct_tls_ports = {}
s2s_ports = {}
s2s_direct_tls_ports = {}
component_ports = {}
proxy65_ports = {}

-- Bigger reads, no Nagle: avoids ~45 ms of extra latency per large stanza on loopback.
network_settings = {
	nagle = false;
	read_size = 65536;
	opportunistic_writes = true;
}

-- HTTP requests arrive with Host: 127.0.0.1:<port>, which is no XMPP host; route them to ours.
http_default_host = domain

-- Authentication and encryption --------------------------------------------------------------

authentication = "internal_hashed"
-- Not part of the ProsodyOptions API, read straight from the test process environment:
--   MOX_PROSODY_PASSWORD_HASH     "SHA-1" (Prosody default: SCRAM-SHA-1 + PLAIN offered) or "SHA-256"
--                                 (SCRAM-SHA-256 + PLAIN offered instead; 0.12 stores one hash only)
--   MOX_PROSODY_SCRAM_ITERATIONS  PBKDF2 iterations for accounts registered from now on (default 10000,
--                                 as in production; xmpp.js' own SCRAM needs ~0.6-1 s per login at 10000)
-- Both apply when an account is registered, so set them before startProsody().
if (ENV_MOX_PROSODY_PASSWORD_HASH or "") ~= "" then
	password_hash = ENV_MOX_PROSODY_PASSWORD_HASH
end
if tonumber(ENV_MOX_PROSODY_SCRAM_ITERATIONS or "") then
	default_iteration_count = tonumber(ENV_MOX_PROSODY_SCRAM_ITERATIONS)
end
c2s_require_encryption = false      -- no TLS certificates here; ws:// and plain TCP on loopback
s2s_require_encryption = false
consider_websocket_secure = true    -- otherwise PLAIN is hidden on ws:// and the session is "insecure"
websocket_get_response_text = ENV_MOX_PROSODY_READY_TOKEN or "mox test prosody"

-- Modules ------------------------------------------------------------------------------------

local modules = {
	"roster"; "saslauth"; "disco"; "ping"; "pep"; "carbons"; "vcard"; "version";
	"private"; "blocklist"; "time"; "uptime";
	"smacks"; "websocket"; "http"; "posix";
	-- presence, message, iq, offline and c2s are loaded automatically
}
if rate_limit ~= "" then
	table.insert(modules, "limits")
end
if parent_pid then
	table.insert(modules, "mox_watchdog") -- written into dir/plugins by the harness
end
local disabled = { "s2s"; "s2s_auth_certs"; "dialback" }
local without = {}
for name in string.gmatch(ENV_MOX_PROSODY_WITHOUT_MODULES or "", "[^,%s]+") do
	without[name] = true
	table.insert(disabled, name) -- for auto-loaded modules such as "offline"
end
local kept = {}
for _, name in ipairs(modules) do
	if not without[name] then table.insert(kept, name) end
end
-- modules_enabled must be assigned as a whole table, it cannot be appended to later
modules_enabled = kept
modules_disabled = disabled

smacks_hibernation_time = sm_timeout
if rate_limit ~= "" then
	limits = {
		c2s = { rate = rate_limit; burst = "2s" };
	}
end

-- Virtual host -------------------------------------------------------------------------------

local host_modules = {}
if want_mam then
	table.insert(host_modules, "mam")
end
for name in string.gmatch(ENV_MOX_PROSODY_EXTRA_MODULES or "", "[^,%s]+") do
	table.insert(host_modules, name)
end

VirtualHost(domain)
	modules_enabled = host_modules
	if want_mam then
		storage = { archive = "memory" } -- file storage rewrites the whole archive at each write
		archive_expires_after = "never"
	end

-- XEP-0363 upload ----------------------------------------------------------------------------

if want_upload then
	Component("upload." .. domain) "http_file_share"
		-- Serve under the main HTTP host (Host: 127.0.0.1 is routed there) and hand out
		-- URLs on the loopback address and port the tests can reach.
		http_host = domain
		if (ENV_MOX_PROSODY_UPLOAD_URL or "") ~= "" then
			http_external_url = ENV_MOX_PROSODY_UPLOAD_URL
		elseif https_port then
			http_external_url = "https://127.0.0.1:" .. https_port .. "/"
		else
			http_external_url = "http://127.0.0.1:" .. http_port .. "/"
		end
		if tonumber(ENV_MOX_PROSODY_UPLOAD_LIMIT or "") then
			http_file_share_size_limit = tonumber(ENV_MOX_PROSODY_UPLOAD_LIMIT)
		end
		if tonumber(ENV_MOX_PROSODY_UPLOAD_QUOTA or "") then
			http_file_share_daily_quota = tonumber(ENV_MOX_PROSODY_UPLOAD_QUOTA)
		end
end
