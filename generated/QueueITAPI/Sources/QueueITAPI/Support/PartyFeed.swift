//
// PartyFeed.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/PartyFeed.swift (hand-written, not generated)
//
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Hand-written (not generated): `make generate` copies this file into the package.
// The realtime half of the contract (asyncapi/queueit.yaml) as one object: open the socket with
// the bearer token, apply the snapshot and then every event to a `PartyState`, answer and send
// heartbeats, notice silence, refill a gap from `GET /events?since=`, send a fresh token as an
// `auth` frame before the old one expires, reconnect with `since` and backoff by the close-code
// table, and stop with a typed reason when the member is out of the party. No generator writes
// this: openapi-generator and swift-openapi-generator have no WebSocket support, and the
// generated realtime types (RealtimeServerMessage, RealtimeCloseCode) are its vocabulary.

/// Follows one party live: `for try await party in feed.states() { … }`.
///
/// The sequence yields the party after the opening snapshot and after every change. It ends by
/// throwing `PartyFeed.Stopped` when the server says the member is out (kicked, banned, left,
/// the session ended, …), and ends quietly when the consuming task is cancelled. Everything in
/// between (drops, server restarts, expired tokens, missed events) it handles itself.
public final class PartyFeed: Sendable {
    public struct Options: Sendable {
        /// How often the client pings (the server closes a socket silent for 60 s with 4008).
        public var heartbeatInterval: TimeInterval = 20
        /// Nothing heard for this long (the server pings every 20 s): the connection is dead,
        /// open a new one.
        public var silenceTimeout: TimeInterval = 45
        /// Ask the token provider for a fresh token this long before the current one expires
        /// and send it as an `auth` frame (the server closes with 4002 at `exp` + 30 s).
        public var tokenRefreshLeeway: TimeInterval = 60
        /// When the provider gives no newer token yet, ask again after this long.
        public var tokenRetryInterval: TimeInterval = 5
        /// Reconnect delays: `backoffBase` × 2^attempt, at most `backoffMax`, with jitter.
        public var backoffBase: TimeInterval = 0.25
        public var backoffMax: TimeInterval = 30
        /// 4001 this many times in a row (no connection opened in between): stop, `.unauthorized`.
        public var maxAuthFailures = 3
        /// `limit` of each `GET /events` page while refilling a gap (nil: the server's default).
        public var refillPageLimit: Int?

        public init() {}
    }

    /// Why the feed stopped for good.
    public enum StopReason: Sendable, Hashable {
        case kicked
        case banned
        /// Left the session, from this or another device.
        case left
        case sessionEnded
        case sessionNotFound
        /// Not a member: `POST /sessions/join` first.
        case notMember
        /// The token provider gave no token the server accepts.
        case unauthorized
        /// The server refused this client's frames (1009, 4000): a client bug.
        case clientError
        /// Closed normally by the server (1000), or a 4xxx code this version does not know.
        case closed
    }

    /// The feed stopped: `reason`, the close code that said so, and the last state.
    public struct Stopped: Error, Sendable, Hashable {
        public let reason: StopReason
        public let closeCode: RealtimeCloseCode
        public let lastState: PartyState?
    }

    /// What the feed did so far (for diagnostics and tests).
    public struct Stats: Sendable, Hashable {
        /// Sockets opened; `reconnects`: those after the first.
        public var connections = 0
        public var reconnects = 0
        public var snapshots = 0
        /// Events applied as they arrived on the socket (replays after `since` included).
        public var events = 0
        /// Gaps noticed on the socket and closed from `GET /events`, and the events that took.
        public var gapsRefilled = 0
        public var refilledEvents = 0
        public var tokenRefreshes = 0
        /// Frames of a type this version does not know (ignored; an event's `seq` still counts).
        public var unknownFrames = 0
        public var pingsAnswered = 0
        public var closeCodes: [Int] = []
    }

    public let sessionID: UUID
    private let client: QueueITClient
    private let transport: any RealtimeTransport
    private let options: Options
    private let record = StatsRecord()

    public init(
        client: QueueITClient,
        session: UUID,
        transport: any RealtimeTransport = URLSessionWebSocketTransport(),
        options: Options = Options()
    ) {
        self.client = client
        self.sessionID = session
        self.transport = transport
        self.options = options
    }

    /// The party, live. Each call follows it on a connection of its own.
    public func states() -> AsyncThrowingStream<PartyState, Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingNewest(64)) { continuation in
            let runner = FeedRunner(
                session: sessionID, client: client, transport: transport, options: options,
                record: record, output: continuation)
            let task = Task { await runner.run() }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Counters of every connection this feed opened.
    public var stats: Stats { record.value }

    /// The realtime URL for `session`: `ws(s)://…/api/v1/sessions/{id}/realtime[?since=N]`.
    public static func realtimeURL(baseURL: URL, session: UUID, since: Int64?) -> URL? {
        guard var parts = URLComponents(url: baseURL, resolvingAgainstBaseURL: false) else {
            return nil
        }
        parts.scheme = parts.scheme == "https" ? "wss" : "ws"
        var path = parts.path
        while path.hasSuffix("/") { path.removeLast() }
        parts.path = path + "/api/v1/sessions/\(session.uuidString.lowercased())/realtime"
        parts.queryItems = since.map { [URLQueryItem(name: "since", value: String($0))] }
        return parts.url
    }

    /// A JWT's `exp` claim, if the token is one (no signature check: only for timing).
    static func expiry(ofToken token: String) -> Date? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        switch claims["exp"] {
        case let exp as Double: return Date(timeIntervalSince1970: exp)
        case let exp as Int: return Date(timeIntervalSince1970: TimeInterval(exp))
        default: return nil
        }
    }
}

/// The counters, shared by the feed and its runners.
final class StatsRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var stats = PartyFeed.Stats()

    var value: PartyFeed.Stats {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    func update(_ change: (inout PartyFeed.Stats) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        change(&stats)
    }
}

/// How one connection ended.
private enum ConnectionEnd {
    /// The server closed with this code (nil: dropped without a close frame).
    case closed(Int?)
    /// The feed gave up on it (silence, an unclosable gap): reconnect with `since`.
    case abandoned
}

private struct Silence: Error {}

/// `Task.sleep(for:)` needs iOS 16; the package supports iOS 13.
private func sleep(_ seconds: TimeInterval) async throws {
    try await Task.sleep(nanoseconds: UInt64(max(seconds, 0) * 1_000_000_000))
}

/// One `states()` call: the connect–follow–reconnect loop.
private actor FeedRunner {
    let session: UUID
    let client: QueueITClient
    let transport: any RealtimeTransport
    let options: Options
    let record: StatsRecord
    let output: AsyncThrowingStream<PartyState, Error>.Continuation
    typealias Options = PartyFeed.Options

    private var state: PartyState?
    private var token: String?
    private let decoder = CodableHelper().jsonDecoder
    private let encoder: JSONEncoder = {
        let encoder = CodableHelper().jsonEncoder
        encoder.outputFormatting = []  // one compact text frame
        return encoder
    }()

    init(
        session: UUID, client: QueueITClient, transport: any RealtimeTransport,
        options: Options, record: StatsRecord,
        output: AsyncThrowingStream<PartyState, Error>.Continuation
    ) {
        self.session = session
        self.client = client
        self.transport = transport
        self.options = options
        self.record = record
        self.output = output
    }

    func run() async {
        var failures = 0  // connections in a row that ended before the server sent a frame
        var authFailures = 0
        while !Task.isCancelled {
            let end: ConnectionEnd
            let opened: Bool
            do {
                (end, opened) = try await follow()
            } catch is CancellationError {
                break
            } catch {
                (end, opened) = (.closed(nil), false)  // no socket (or no token) this time
            }
            if Task.isCancelled { break }
            if opened {
                failures = 0
                authFailures = 0
            } else {
                failures += 1
            }
            var delay = backoff(failures)
            switch end {
            case .abandoned:
                if opened { delay = 0 }
            case .closed(nil):
                break
            case .closed(let raw?):
                record.update { $0.closeCodes.append(raw) }
                let code = RealtimeCloseCode(rawValue: raw)
                switch code.action {
                case .reconnect:
                    if opened { delay = 0 }
                case .reconnectWithBackoff:
                    delay = backoff(max(failures, 1))
                case .refreshToken:
                    token = nil  // ask the provider again
                    if code == .unauthorized { authFailures += 1 }
                    if authFailures >= options.maxAuthFailures {
                        return stop(.unauthorized, code)
                    }
                    delay = authFailures <= 1 ? 0 : backoff(authFailures)
                case .stop, .join, .fixClient, .nothing:
                    return stop(Self.reason(for: code), code)
                }
            }
            do {
                try await sleep(delay)
            } catch {
                break
            }
        }
        output.finish()
    }

    private func stop(_ reason: PartyFeed.StopReason, _ code: RealtimeCloseCode) {
        output.finish(throwing: PartyFeed.Stopped(reason: reason, closeCode: code, lastState: state))
    }

    static func reason(for code: RealtimeCloseCode) -> PartyFeed.StopReason {
        switch code {
        case .kicked: return .kicked
        case .banned: return .banned
        case .left: return .left
        case .sessionEnded: return .sessionEnded
        case .sessionNotFound: return .sessionNotFound
        case .notMember: return .notMember
        case .unauthorized, .tokenExpired: return .unauthorized
        case .messageTooBig, .tooManyMalformedFrames: return .clientError
        default: return .closed
        }
    }

    private func backoff(_ attempt: Int) -> TimeInterval {
        let capped = min(options.backoffBase * pow(2, Double(min(attempt, 16))), options.backoffMax)
        return capped * Double.random(in: 0.5...1.0)  // jitter: a party's phones spread out
    }

    // MARK: - One connection

    /// Open a socket and follow the party on it until it ends. `opened`: the server sent at
    /// least one frame (so the connection counts as a success for the backoff).
    private func follow() async throws -> (ConnectionEnd, Bool) {
        let current: String?
        if let token { current = token } else { current = try await client.tokenProvider() }
        token = current
        guard let url = PartyFeed.realtimeURL(
            baseURL: client.baseURL, session: session, since: state?.seq)
        else { throw QueueITError.invalidRequest("not a base URL: \(client.baseURL)") }
        var request = URLRequest(url: url)
        if let current { request.setValue("Bearer \(current)", forHTTPHeaderField: "Authorization") }
        let connection = try await transport.connect(request)
        record.update {
            if $0.connections > 0 { $0.reconnects += 1 }
            $0.connections += 1
        }
        var opened = false
        let end = await withTaskGroup(of: Void.self) { group -> ConnectionEnd in
            group.addTask { [options] in
                await Self.heartbeats(connection, every: options.heartbeatInterval)
            }
            group.addTask { await self.refreshTokens(connection) }
            defer { group.cancelAll() }
            do {
                while true {
                    let text = try await Self.receive(connection, within: options.silenceTimeout)
                    opened = true
                    if try await handle(text, on: connection) == false {
                        await connection.close(code: 1000)
                        return .abandoned
                    }
                }
            } catch let closed as RealtimeSocketClosed {
                return .closed(closed.code)
            } catch {
                // Silence, cancellation, or a refill that failed: this socket is done.
                await connection.close(code: 1000)
                return .abandoned
            }
        }
        if Task.isCancelled {
            await connection.close(code: 1000)
            throw CancellationError()
        }
        return (end, opened)
    }

    /// Handle one frame. False: give up on this connection (reconnect with `since`).
    private func handle(_ text: String, on connection: any RealtimeConnection) async throws -> Bool {
        let message: RealtimeServerMessage
        do {
            message = try decoder.decode(RealtimeServerMessage.self, from: Data(text.utf8))
        } catch {
            record.update { $0.unknownFrames += 1 }  // not JSON: nothing to apply
            return true
        }
        switch message {
        case .snapshot(let snapshot):
            var current = snapshot.data
            current.seq = snapshot.seq
            state = PartyState(snapshot: current)
            record.update { $0.snapshots += 1 }
            publish()
        case .event(let event):
            return try await apply(event)
        case .ping:
            try await send(.pong(PongMessage(type: .pong)), on: connection)
            record.update { $0.pingsAnswered += 1 }
        case .pong, .error:
            break  // an `error` answers a frame of ours; the socket stays open
        case .unknown(let json):
            record.update { $0.unknownFrames += 1 }
            // A newer server's event type: it still takes a `seq`, or every later event
            // would look like a gap.
            if EventEnvelope(json: json) != nil {
                return try await apply(.unknown(json))
            }
        }
        return true
    }

    private func apply(_ event: SessionEvent) async throws -> Bool {
        guard state != nil else { return true }  // before the snapshot: it will contain this
        switch state!.apply(event) {
        case .applied:
            record.update { $0.events += 1 }
            publish()
        case .alreadyApplied:
            break
        case .gap:
            guard try await refill(through: event) else { return false }
            publish()
        }
        return true
    }

    /// Fetch the missed events from `GET /events?since=` and apply them, then `event`.
    /// False when the gap stays open (the connection is then replaced, with `since`).
    private func refill(through event: SessionEvent) async throws -> Bool {
        guard let target = event.seq else { return true }
        var refilled = 0
        while let seq = state?.seq, seq < target - 1 {
            let page: EventsPage
            do {
                page = try await client.events(
                    session: session, since: seq, limit: options.refillPageLimit
                ).body
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                return false
            }
            if let snapshot = page.resyncSnapshot {
                state = PartyState(snapshot: snapshot)
                record.update { $0.snapshots += 1 }
                break
            }
            for missed in page.events {
                if case .gap = state!.apply(missed) { return false }
                refilled += 1
            }
            if page.events.isEmpty || !page.hasMore { break }
        }
        if case .gap = state!.apply(event) { return false }
        record.update {
            $0.gapsRefilled += 1
            $0.refilledEvents += refilled
        }
        return true
    }

    private func publish() {
        if let state { output.yield(state) }
    }

    private func send(_ message: RealtimeClientMessage, on connection: any RealtimeConnection)
        async throws
    {
        let data = try encoder.encode(message)
        try await connection.send(String(decoding: data, as: UTF8.self))
    }

    // MARK: - Alongside the receive loop

    private static func heartbeats(_ connection: any RealtimeConnection, every interval: TimeInterval)
        async
    {
        let ping = #"{"type":"ping"}"#
        while true {
            do {
                try await sleep(interval)
                try await connection.send(ping)
            } catch {
                return  // cancelled, or the socket is closed: the receive loop sees it
            }
        }
    }

    /// Before the token expires, ask the provider again and send what it gives as `auth`.
    private func refreshTokens(_ connection: any RealtimeConnection) async {
        var wait: TimeInterval? = nil  // nil: until `tokenRefreshLeeway` before `exp`
        while !Task.isCancelled {
            guard let token, let exp = PartyFeed.expiry(ofToken: token) else {
                return  // not a JWT (or no token): nothing to time
            }
            do {
                try await sleep(wait ?? (exp.timeIntervalSinceNow - options.tokenRefreshLeeway))
                guard let fresh = try await client.tokenProvider(), fresh != token else {
                    wait = options.tokenRetryInterval  // not refreshed yet
                    continue
                }
                try await send(.auth(AuthMessage(type: .auth, token: fresh)), on: connection)
                self.token = fresh
                wait = nil
                record.update { $0.tokenRefreshes += 1 }
            } catch {
                return
            }
        }
    }

    /// The next frame, or `Silence` when nothing came for `timeout`.
    private static func receive(_ connection: any RealtimeConnection, within timeout: TimeInterval)
        async throws -> String
    {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await connection.receive() }
            group.addTask {
                try await sleep(timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let text = first else { throw Silence() }
            return text
        }
    }
}
