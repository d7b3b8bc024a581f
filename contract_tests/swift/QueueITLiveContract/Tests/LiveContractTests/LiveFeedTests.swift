// PartyFeed (the package's realtime client) follows a party on the live server: three members,
// a cut-off socket resumed with `since`, one gap refilled from `GET /events`, an event type and
// an enum value this version does not know put into the real stream, the member's own vote cast
// from a second device, and a kick that stops the feed. Its last state must equal
// `GET /sessions/current` field by field.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI
import XCTest

/// Collects what the feed yields, for the test to wait on.
actor Follower {
    private(set) var latest: PartyState?
    private(set) var yielded = 0
    private(set) var end: Error??

    func record(_ state: PartyState) {
        latest = state
        yielded += 1
    }

    func finish(_ error: Error?) {
        end = .some(error)
    }

    /// The first state (from now on) that satisfies `condition`, within 20 s.
    func wait(
        _ what: String, file: StaticString = #filePath, line: UInt = #line,
        until condition: @Sendable (PartyState) -> Bool
    ) async throws -> PartyState {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let latest, condition(latest) { return latest }
            if let end { throw end ?? LiveFeedError("the feed ended while waiting for \(what)") }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTFail("timed out waiting for \(what)", file: file, line: line)
        throw LiveFeedError("timed out waiting for \(what); last seq \(latest?.seq ?? -1)")
    }

    func waitForEnd() async throws -> Error? {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let end { return end }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw LiveFeedError("the feed did not end")
    }
}

/// The follower's tokens in turn; the last one repeats.
actor HandedTokens {
    private var tokens: [String]
    init(_ tokens: [String]) { self.tokens = tokens }
    func next() -> String? { tokens.count > 1 ? tokens.removeFirst() : tokens.first }
}

struct LiveFeedError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class LiveFeedTests: XCTestCase {
    func testPartyFeedFollowsTheLiveParty() async throws {
        let base = try XCTUnwrap(URL(string: try Live.env("QUEUEIT_LIVE_BASE_URL")))
        let tokens = try Live.env("QUEUEIT_LIVE_FEED_TOKENS").split(separator: ",").map(String.init)
        XCTAssertEqual(tokens.count, 3)
        let host = QueueITClient(baseURL: base, tokenProvider: { tokens[0] })
        let guest = QueueITClient(baseURL: base, tokenProvider: { tokens[1] })
        let guestsPhone = QueueITClient(baseURL: base, tokenProvider: { tokens[1] })  // 2nd device
        let other = QueueITClient(baseURL: base, tokenProvider: { tokens[2] })

        let created = try await host.createSession().body
        let session = created.session.id
        let joined = try await guest.joinSession(code: created.session.joinCode).body
        let me = try XCTUnwrap(joined.members?.first { $0.role == .guest }?.user.id)

        let transport = RelayTransport(
            python: try Live.env("QUEUEIT_LIVE_PYTHON"), script: try Live.env("QUEUEIT_LIVE_RELAY"))
        var options = PartyFeed.Options()
        options.backoffBase = 0.05
        options.tokenRefreshLeeway = 62  // the first token lives 65 s: a fresh one after ~3 s
        let shortToken = try Live.env("QUEUEIT_LIVE_FEED_SHORT_TOKEN")
        let handed = HandedTokens([shortToken, tokens[1]])
        let follows = QueueITClient(baseURL: base, tokenProvider: { await handed.next() })
        let feed = PartyFeed(client: follows, session: session, transport: transport, options: options)
        let follower = Follower()
        let consumer = Task {
            do {
                for try await state in feed.states() { await follower.record(state) }
                await follower.finish(nil)
            } catch {
                await follower.finish(error)
            }
        }
        defer { consumer.cancel() }

        // A party of three.
        _ = try await follower.wait("the snapshot") { $0.members.count == 2 }
        let third = try await other.joinSession(code: created.session.joinCode).body
        let otherID = try XCTUnwrap(third.members?.first { $0.user.id != me && $0.role == .guest }?.user.id)
        let tracks = try await host.search("a", limit: 10).body.tracks.filter { $0.explicit != true }
        XCTAssertGreaterThanOrEqual(tracks.count, 5)
        let a = try await host.addSong(tracks[0]).body
        let b = try await other.addSong(tracks[1]).body
        let c = try await guest.addSong(tracks[2]).body
        _ = try await other.vote(b.id, .up)
        _ = try await host.vote(c.id, .up)
        _ = try await host.vote(b.id, .up)
        _ = try await follower.wait("three songs in vote order") {
            $0.queue.map(\.id) == [b.id, c.id, a.id] && $0.members.count == 3
        }

        // Cut off mid-party: the feed resumes with `since` and gets the missed events replayed.
        let before = await follower.latest
        let seqAtCut = try XCTUnwrap(before?.seq)
        transport.cutOff()
        _ = try await host.control(.play)
        let d = try await other.addSong(tracks[3]).body
        transport.reconnectNetwork()
        _ = try await follower.wait("the party after the cut") { state in
            state.playback.state == .playing && state.queue.contains { $0.id == d.id }
        }
        let urls = transport.connectedURLs
        XCTAssertGreaterThanOrEqual(urls.count, 2)
        let resumed = try XCTUnwrap(urls.last.flatMap { URLComponents(url: $0, resolvingAgainstBaseURL: false) })
        let since = try XCTUnwrap(resumed.queryItems?.first { $0.name == "since" }?.value)
        XCTAssertGreaterThanOrEqual(Int64(since) ?? -1, seqAtCut)
        XCTAssertEqual(feed.stats.snapshots, 1, "the resume must replay events, not send a snapshot")

        // One event frame lost on the way: the next one shows the gap, `GET /events` fills it.
        let beforeGap = await follower.latest
        let votesOfA = try XCTUnwrap(beforeGap?.queue.first { $0.id == a.id }?.votes)
        let votesOfD = try XCTUnwrap(beforeGap?.queue.first { $0.id == d.id }?.votes)
        transport.dropNextEvent()
        _ = try await other.vote(a.id, .up)
        _ = try await host.vote(d.id, .up)
        _ = try await follower.wait("the gap refilled") { state in
            state.queue.first { $0.id == a.id }?.votes == votesOfA + 1
                && state.queue.first { $0.id == d.id }?.votes == votesOfD + 1
        }
        XCTAssertEqual(transport.dropped.count, 1)
        XCTAssertEqual(feed.stats.gapsRefilled, 1)
        XCTAssertGreaterThanOrEqual(feed.stats.refilledEvents, 1)

        // The member votes from their other phone: this feed learns it from the stream.
        _ = try await guestsPhone.vote(d.id, .up)
        _ = try await follower.wait("my vote from the other device") { $0.myVote(for: d.id) == .up }

        // A newer server's event type and enum value, in the real stream.
        let pinned = #"{"queued_song_id":"\#(a.id.uuidString.lowercased())"}"#
        try inject(session, "song_pinned", pinned)
        let now = await follower.latest
        var dj = try XCTUnwrap(now?.members.first { $0.user.id == otherID })
        dj.role = .unknown("dj")
        let djData = String(decoding: try CodableHelper().jsonEncoder.encode(MemberRoleChangedData(member: dj)), as: UTF8.self)
        try inject(session, "member_role_changed", djData)
        _ = try await follower.wait("the unknown role") { state in
            state.members.first { $0.user.id == otherID }?.role == .unknown("dj")
        }
        XCTAssertGreaterThanOrEqual(feed.stats.unknownFrames, 1)
        _ = try await host.send {
            ModerationAPI.setMemberRoleWithRequestBuilder(
                sessionId: session, userId: otherID,
                memberRoleUpdate: MemberRoleUpdate(role: .cohost), apiConfiguration: $0)
        }
        _ = try await host.vote(d.id, .withdraw)
        _ = try await follower.wait("events after the unknown ones") { state in
            state.members.first { $0.user.id == otherID }?.role == .cohost
                && state.queue.first { $0.id == d.id }?.votes == votesOfD + 1  // + my phone's
        }
        XCTAssertEqual(feed.stats.gapsRefilled, 1, "an unknown event must not look like a gap")

        // The short-lived first token was replaced on the open socket, and the server took it.
        for _ in 0..<200 where feed.stats.tokenRefreshes == 0 {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertEqual(feed.stats.tokenRefreshes, 1)

        // The feed's state is the server's, field by field.
        let server = try await guest.currentSession().body
        let final = try await follower.wait("the server's seq \(server.seq)") { $0.seq == server.seq }
        try assertSameParty(final, PartyState(snapshot: server))

        // Kicked: the feed stops with the reason, and does not reconnect.
        _ = try await host.send {
            ModerationAPI.kickMemberWithRequestBuilder(sessionId: session, userId: me, apiConfiguration: $0)
        }
        let end = try await follower.waitForEnd()
        let stopped = try XCTUnwrap(end as? PartyFeed.Stopped, "ended with \(String(describing: end))")
        XCTAssertEqual(stopped.reason, .kicked)
        XCTAssertEqual(stopped.closeCode, .kicked)
        XCTAssertEqual(stopped.lastState?.members.contains { $0.user.id == me }, false)
        let connections = transport.connectedURLs.count
        try await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertEqual(transport.connectedURLs.count, connections, "a kicked feed must not reconnect")
        XCTAssertEqual(feed.stats.closeCodes, [4010], "the fresh token must not be refused (4001)")

        let stats = feed.stats
        let members = final.members.count
        print(
            "QUEUEIT-LIVE-FEED-OK members=\(members) events=\(stats.events)"
                + " yielded=\(await follower.yielded) connections=\(stats.connections)"
                + " reconnects=\(stats.reconnects) snapshots=\(stats.snapshots)"
                + " gaps_refilled=\(stats.gapsRefilled) refilled_events=\(stats.refilledEvents)"
                + " unknown_frames=\(stats.unknownFrames) token_refreshes=\(stats.tokenRefreshes)"
                + " close_codes=\(stats.closeCodes)")
        _ = try await host.leaveSession()
        _ = try await other.leaveSession()
    }

    /// Put an event into the live session's stream as a newer server would (ct_inject_event.py).
    private func inject(_ session: UUID, _ type: String, _ payload: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Live.env("QUEUEIT_LIVE_PYTHON"))
        process.arguments = [try Live.env("QUEUEIT_LIVE_INJECT"), session.uuidString, type, payload]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "injecting \(type) failed")
    }

    /// Every top-level field of the two states encodes to the same JSON.
    private func assertSameParty(_ feed: PartyState, _ server: PartyState) throws {
        let encoder = CodableHelper().jsonEncoder
        encoder.outputFormatting = [.sortedKeys]
        func fields(_ state: PartyState) throws -> [String: String] {
            let data = try encoder.encode(state.current)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            var out: [String: String] = [:]
            for (key, value) in object {
                let json = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
                out[key] = String(decoding: json, as: UTF8.self)
            }
            return out
        }
        let mine = try fields(feed), theirs = try fields(server)
        XCTAssertEqual(Set(mine.keys), Set(theirs.keys))
        for key in theirs.keys.sorted() {
            XCTAssertEqual(mine[key], theirs[key], "field \(key) differs from GET /sessions/current")
        }
    }
}
