// PartyFeed (tools/swift-support) against scripted sockets: what it does on each close code, on
// silence, with heartbeats and with an expiring token. The contract job runs it against the
// live server (contract_tests/swift, LiveFeedTests); these cases need a server that misbehaves
// on cue.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI
import XCTest

/// One scripted socket: the frames the "server" sends, then how it ends.
struct Script: Sendable {
    enum End: Sendable { case close(Int), drop, hang }
    var frames: [String]
    var end: End
}

final class ScriptedTransport: RealtimeTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var scripts: [Script]
    private var _requests: [URLRequest] = []
    private var _sent: [String] = []

    init(_ scripts: [Script]) {
        self.scripts = scripts
    }

    var requests: [URLRequest] { locked { _requests } }
    var sent: [String] { locked { _sent } }

    func record(_ text: String) {
        locked { _sent.append(text) }
    }

    func connect(_ request: URLRequest) async throws -> any RealtimeConnection {
        let script = locked { () -> Script in
            _requests.append(request)
            return scripts.isEmpty ? Script(frames: [], end: .hang) : scripts.removeFirst()
        }
        return ScriptedConnection(script, transport: self)
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

final class ScriptedConnection: RealtimeConnection, @unchecked Sendable {
    private let lock = NSLock()
    private var frames: [String]
    private let end: Script.End
    private let transport: ScriptedTransport

    init(_ script: Script, transport: ScriptedTransport) {
        frames = script.frames
        end = script.end
        self.transport = transport
    }

    private func nextFrame() -> String? {
        lock.lock()
        defer { lock.unlock() }
        return frames.isEmpty ? nil : frames.removeFirst()
    }

    func receive() async throws -> String {
        if let frame = nextFrame() { return frame }
        switch end {
        case .close(let code): throw RealtimeSocketClosed(code: code)
        case .drop: throw RealtimeSocketClosed(code: nil)
        case .hang:
            while true { try await Task.sleep(nanoseconds: 1_000_000_000) }  // until cancelled
        }
    }

    func send(_ text: String) async throws { transport.record(text) }
    func close(code: Int) async {}
}

/// What the feed yielded, and how it ended.
actor Collected {
    private(set) var states: [PartyState] = []
    private(set) var end: Error??

    func add(_ state: PartyState) { states.append(state) }
    func finish(_ error: Error?) { end = .some(error) }
}

final class PartyFeedTests: XCTestCase {
    private let session = UUID(uuidString: "3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f")!
    private let host = "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
    private let entry = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"

    private func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    private func snapshot(seq: Int) -> String {
        let user: [String: Any] = ["id": host, "username": "maya", "email": NSNull(), "avatar_url": NSNull()]
        let song: [String: Any] = [
            "id": entry, "status": "queued", "added_at": "2025-11-22T10:32:00Z", "added_seq": 1,
            "votes": 1, "added_by": user,
            "song": [
                "id": "T1", "isrc": NSNull(), "name": "Song", "artists": "A", "album": "B",
                "duration_ms": 200_000, "image_url": NSNull(),
            ] as [String: Any],
        ]
        let data: [String: Any] = [
            "session": [
                "id": session.uuidString.lowercased(), "join_code": "PARTY1",
                "created_at": "2025-11-22T10:30:00Z", "host": user, "status": "active",
                "ended_at": NSNull(), "member_count": 1,
            ] as [String: Any],
            "members": [["user": user, "role": "host", "joined_at": "2025-11-22T10:30:00Z"]],
            "queue": [song],
            "playback": [
                "state": "stopped", "current": NSNull(), "started_at": NSNull(),
                "skip_votes": 0, "skip_votes_needed": 2,
            ] as [String: Any],
            "settings": [
                "queue_locked": false, "allow_downvotes": true, "max_queued_per_user": 10,
                "max_track_duration_ms": NSNull(), "allow_explicit": true,
                "skip_vote_share": 0.4, "skip_vote_min": 2,
            ] as [String: Any],
            "my_role": "host", "my_votes": [entry: 1], "seq": seq,
        ]
        return json(["type": "snapshot", "seq": seq, "data": data])
    }

    private func event(_ type: String, _ seq: Int, _ data: [String: Any]) -> String {
        json([
            "type": type, "seq": seq, "session_id": session.uuidString.lowercased(),
            "created_at": "2025-11-22T10:40:00Z", "data": data,
        ])
    }

    private func votes(_ seq: Int, total: Int) -> String {
        event("votes_updated", seq, ["queued_song_id": entry, "total_votes": total])
    }

    /// A JWT-shaped token expiring in `seconds` (the feed reads `exp` only, for timing).
    private func jwt(expiringIn seconds: TimeInterval, _ tag: String) -> String {
        let claims = json(["exp": Date().timeIntervalSince1970 + seconds, "jti": tag])
        let payload = Data(claims.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "e30.\(payload).sig"
    }

    private func options(_ change: (inout PartyFeed.Options) -> Void = { _ in }) -> PartyFeed.Options {
        var options = PartyFeed.Options()
        options.backoffBase = 0.01
        change(&options)
        return options
    }

    /// Follow with `transport`; tokens come from `tokens` in turn (the last one repeats).
    private func follow(
        _ transport: ScriptedTransport, tokens: [String] = ["t1"], options: PartyFeed.Options
    ) -> (PartyFeed, Collected, Task<Void, Never>) {
        let handed = TokenSequence(tokens)
        let client = QueueITClient(
            baseURL: URL(string: "http://127.0.0.1:8000")!, tokenProvider: { await handed.next() })
        let feed = PartyFeed(client: client, session: session, transport: transport, options: options)
        let collected = Collected()
        let task = Task {
            do {
                for try await state in feed.states() { await collected.add(state) }
                await collected.finish(nil)
            } catch {
                await collected.finish(error)
            }
        }
        return (feed, collected, task)
    }

    private func eventually(_ what: String, _ condition: @Sendable () async -> Bool) async throws {
        for _ in 0..<300 {
            if await condition() { return }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTFail("timed out: \(what)")
    }

    private func query(_ request: URLRequest) -> [String: String] {
        let items = URLComponents(url: request.url!, resolvingAgainstBaseURL: false)?.queryItems ?? []
        return Dictionary(uniqueKeysWithValues: items.map { ($0.name, $0.value ?? "") })
    }

    func testTokenExpiredReconnectsWithSinceAndTheNewToken() async throws {
        let transport = ScriptedTransport([
            Script(frames: [snapshot(seq: 10)], end: .close(4002)),
            Script(frames: [votes(11, total: 4)], end: .hang),
        ])
        let (feed, collected, task) = follow(transport, tokens: ["t1", "t2"], options: options())
        try await eventually("the event after the reconnect") { await collected.states.last?.seq == 11 }
        task.cancel()
        let requests = transport.requests
        XCTAssertEqual(requests.count, 2)
        XCTAssertNil(query(requests[0])["since"])
        XCTAssertEqual(query(requests[1])["since"], "10")
        XCTAssertEqual(requests[0].value(forHTTPHeaderField: "Authorization"), "Bearer t1")
        XCTAssertEqual(requests[1].value(forHTTPHeaderField: "Authorization"), "Bearer t2")
        XCTAssertEqual(requests[1].url?.scheme, "ws")
        let votesNow = await collected.states.last?.queue.first?.votes
        XCTAssertEqual(votesNow, 4)
        XCTAssertEqual(feed.stats.snapshots, 1)
        XCTAssertEqual(feed.stats.closeCodes, [4002])
        try await eventually("a quiet end on cancel") { await collected.end != nil }
        let end = await collected.end
        XCTAssertNil(end ?? nil)
    }

    func testTheSessionEndingStopsTheFeedWithItsReason() async throws {
        let ended = event("session_ended", 11, ["reason": "host_ended"])
        let transport = ScriptedTransport([Script(frames: [snapshot(seq: 10), ended], end: .close(4013))])
        let (_, collected, _) = follow(transport, options: options())
        try await eventually("the end") { await collected.end != nil }
        let end = await collected.end
        let stopped = try XCTUnwrap((end ?? nil) as? PartyFeed.Stopped)
        XCTAssertEqual(stopped.reason, .sessionEnded)
        XCTAssertEqual(stopped.closeCode, .sessionEnded)
        XCTAssertEqual(stopped.lastState?.hasEnded, true)
        XCTAssertEqual(transport.requests.count, 1, "a stopped feed does not reconnect")
    }

    func testRepeatedUnauthorizedGivesUp() async throws {
        let refused = Script(frames: [], end: .close(4001))
        let transport = ScriptedTransport([refused, refused, refused, refused])
        let (_, collected, _) = follow(transport, options: options())
        try await eventually("the end") { await collected.end != nil }
        let end = await collected.end
        XCTAssertEqual(((end ?? nil) as? PartyFeed.Stopped)?.reason, .unauthorized)
        XCTAssertEqual(transport.requests.count, 3)  // Options.maxAuthFailures
    }

    func testDropsAndTooManyConnectionsAreRetried() async throws {
        let transport = ScriptedTransport([
            Script(frames: [snapshot(seq: 10)], end: .drop),
            Script(frames: [], end: .close(4029)),
            Script(frames: [votes(11, total: 2)], end: .hang),
        ])
        let (feed, collected, task) = follow(transport, options: options())
        try await eventually("the event after two retries") { await collected.states.last?.seq == 11 }
        task.cancel()
        XCTAssertEqual(transport.requests.map { query($0)["since"] }, [nil, "10", "10"])
        XCTAssertEqual(feed.stats.reconnects, 2)
        XCTAssertEqual(feed.stats.closeCodes, [4029])
    }

    func testPingsAreAnsweredHeartbeatsSentAndSilenceReconnects() async throws {
        let transport = ScriptedTransport([
            Script(frames: [snapshot(seq: 10), json(["type": "ping"])], end: .hang),
            Script(frames: [votes(11, total: 3)], end: .hang),
        ])
        let (feed, collected, task) = follow(transport, options: options {
            $0.heartbeatInterval = 0.05
            $0.silenceTimeout = 0.4
        })
        try await eventually("a new connection after silence") { await collected.states.last?.seq == 11 }
        task.cancel()
        let sent = transport.sent
        XCTAssertTrue(sent.contains { $0.contains(#""type":"pong""#) }, "\(sent)")
        XCTAssertTrue(sent.contains { $0.contains(#""type":"ping""#) }, "\(sent)")
        XCTAssertEqual(feed.stats.pingsAnswered, 1)
        XCTAssertEqual(query(transport.requests[1])["since"], "10")
    }

    func testAFreshTokenIsSentBeforeTheOldOneExpires() async throws {
        let first = jwt(expiringIn: 60.2, "first"), second = jwt(expiringIn: 3600, "second")
        let transport = ScriptedTransport([Script(frames: [snapshot(seq: 10)], end: .hang)])
        let (feed, _, task) = follow(transport, tokens: [first, second], options: options {
            $0.tokenRefreshLeeway = 60  // so: 0.2 s from now
        })
        try await eventually("an auth frame") { feed.stats.tokenRefreshes == 1 }
        task.cancel()
        let auth = transport.sent.filter { $0.contains(#""type":"auth""#) }
        XCTAssertEqual(auth.count, 1)
        XCTAssertTrue(auth.first?.contains(second) == true, "\(auth)")
        XCTAssertEqual(transport.requests.count, 1, "the socket stays open")
    }

    func testAnUnknownEventTypeKeepsSeqGapFree() async throws {
        let pinned = event("song_pinned", 11, ["queued_song_id": entry])
        let transport = ScriptedTransport([
            Script(frames: [snapshot(seq: 10), pinned, votes(12, total: 5)], end: .hang),
        ])
        let (feed, collected, task) = follow(transport, options: options())
        try await eventually("the event after the unknown one") { await collected.states.last?.seq == 12 }
        task.cancel()
        XCTAssertEqual(feed.stats.unknownFrames, 1)
        XCTAssertEqual(feed.stats.gapsRefilled, 0)
        XCTAssertEqual(transport.requests.count, 1)
    }
}

/// Hands out tokens in turn; the last one repeats.
actor TokenSequence {
    private var tokens: [String]
    init(_ tokens: [String]) { self.tokens = tokens }
    func next() -> String? {
        tokens.count > 1 ? tokens.removeFirst() : tokens.first
    }
}
