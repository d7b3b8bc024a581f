// PartyState (tools/swift-support): a snapshot, then events in seq order, give the state the
// server would answer, by the spec's rules (play order, skip threshold, member order).

import Foundation
import QueueITAPI
import XCTest

final class PartyStateTests: XCTestCase {
    private let sid = "3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f"
    private let maya = "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
    private let leo = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    private let ana = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    private let songA = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
    private let songB = "6f5e4d3c-2b1a-4f09-8e7d-6c5b4a3f2e1d"
    private let songC = "7a6f5e4d-3c2b-4a1f-9e8d-7c6b5a4f3e2d"

    private func user(_ id: String, _ name: String) -> [String: Any] {
        ["id": id, "username": name, "email": NSNull(), "avatar_url": NSNull()]
    }

    private func song(_ id: String, seq: Int, votes: Int) -> [String: Any] {
        [
            "id": id, "status": "queued", "added_at": "2025-11-22T10:32:00Z", "added_seq": seq,
            "votes": votes, "added_by": user(leo, "leo"),
            "song": [
                "id": "T\(seq)", "isrc": NSNull(), "name": "Song \(seq)", "artists": "A",
                "album": "B", "duration_ms": 200_000, "image_url": NSNull(),
            ] as [String: Any],
        ]
    }

    private func ids(_ state: PartyState) -> [String] {
        state.queue.map { $0.id.uuidString.lowercased() }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ object: Any) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try CodableHelper().jsonDecoder.decode(T.self, from: data)
    }

    private func snapshot() throws -> PartyState {
        let body: [String: Any] = [
            "session": [
                "id": sid, "join_code": "PARTY1", "created_at": "2025-11-22T10:30:00Z",
                "host": user(maya, "maya"), "status": "active", "ended_at": NSNull(),
                "member_count": 2,
            ] as [String: Any],
            "members": [
                ["user": user(leo, "leo"), "role": "guest", "joined_at": "2025-11-22T10:31:00Z"],
                ["user": user(maya, "maya"), "role": "host", "joined_at": "2025-11-22T10:30:00Z"],
            ],
            "queue": [song(songA, seq: 1, votes: 1), song(songB, seq: 2, votes: 1)],
            "playback": [
                "state": "stopped", "current": NSNull(), "started_at": NSNull(),
                "skip_votes": 0, "skip_votes_needed": 2,
            ] as [String: Any],
            "settings": [
                "queue_locked": false, "allow_downvotes": true, "max_queued_per_user": 10,
                "max_track_duration_ms": NSNull(), "allow_explicit": true,
                "skip_vote_share": 0.4, "skip_vote_min": 2,
            ] as [String: Any],
            "my_role": "guest",
            "my_votes": [songA: 1],
            "seq": 10,
        ]
        return PartyState(snapshot: try decode(CurrentSessionResponse.self, body))
    }

    private func event(_ type: String, _ seq: Int, _ data: [String: Any]) throws -> SessionEvent {
        try decode(
            SessionEvent.self,
            [
                "type": type, "seq": seq, "session_id": sid,
                "created_at": "2025-11-22T10:40:00Z", "data": data,
            ] as [String: Any])
    }

    func testTheSnapshotIsPutInTheSpecsOrders() throws {
        let state = try snapshot()
        XCTAssertEqual(state.members.map(\.role), [.host, .guest])  // host first
        XCTAssertEqual(state.queue.map(\.addedSeq), [1, 2])
        XCTAssertEqual(state.seq, 10)
    }

    func testEventsKeepTheQueueInPlayOrderAndSeqGapFree() throws {
        var state = try snapshot()
        XCTAssertEqual(
            state.apply(try event("song_added", 11, ["queued_song": song(songC, seq: 3, votes: 1)])),
            .applied)
        XCTAssertEqual(ids(state), [songA, songB, songC])
        state.apply(try event("votes_updated", 12, ["queued_song_id": songC, "total_votes": 3]))
        XCTAssertEqual(ids(state), [songC, songA, songB])
        // a tie plays the earlier-added first
        state.apply(try event("votes_updated", 13, ["queued_song_id": songB, "total_votes": 3]))
        XCTAssertEqual(ids(state), [songB, songC, songA])
        // repeated, then ahead of the stream: nothing changes
        XCTAssertEqual(
            state.apply(try event("votes_updated", 13, ["queued_song_id": songA, "total_votes": 9])),
            .alreadyApplied)
        XCTAssertEqual(
            state.apply(try event("votes_updated", 15, ["queued_song_id": songA, "total_votes": 9])),
            .gap(expected: 14, got: 15))
        XCTAssertEqual(state.seq, 13)
        // removing a song forgets the caller's vote on it
        state.apply(try event("song_removed", 14, ["queued_song_id": songA, "removed_by": maya]))
        XCTAssertNil(state.myVote(for: UUID(uuidString: songA)!))
        XCTAssertEqual(state.queue.count, 2)
    }

    func testUnknownEventsOnlyMoveSeq() throws {
        var state = try snapshot()
        let before = state.current
        XCTAssertEqual(state.apply(try event("lyrics_shown", 11, ["line": "la la"])), .applied)
        XCTAssertEqual(state.seq, 11)
        XCTAssertEqual(state.queue, before.queue)
    }

    func testMembersAndSettingsMoveTheSkipThreshold() throws {
        var state = try snapshot()
        let joined: [String: Any] = [
            "member": ["user": user(ana, "ana"), "role": "guest", "joined_at": "2025-11-22T10:41:00Z"],
            "member_count": 5,
        ]
        state.apply(try event("member_joined", 11, joined))
        XCTAssertEqual(state.members.count, 3)
        // 0.4 x 5 = 2 exactly (2.0000000000000004 in Double): 2, not 3
        XCTAssertEqual(state.playback.skipVotesNeeded, 2)
        var settings = state.current.settings
        settings.skipVoteShare = 0.5
        let changed = try JSONSerialization.jsonObject(
            with: try CodableHelper().jsonEncoder.encode(settings))
        state.apply(try event("settings_changed", 12, ["settings": changed]))
        XCTAssertEqual(state.playback.skipVotesNeeded, 3)  // ceil(2.5)
        state.apply(
            try event(
                "member_left", 13, ["user_id": maya, "member_count": 2, "new_host_id": leo]))
        XCTAssertEqual(state.members.map(\.user.username), ["leo", "ana"])
        XCTAssertEqual(state.members.first?.role, .host)
        XCTAssertEqual(state.current.session.host.username, "leo")
        XCTAssertEqual(state.playback.skipVotesNeeded, 2)  // the floor
    }

    func testTheCallersOwnVotes() throws {
        var state = try snapshot()
        let b = UUID(uuidString: songB)!
        state.recordMyVote(.down, for: b)
        XCTAssertEqual(state.myVote(for: b), .down)
        state.recordMyVote(.withdraw, for: b)
        XCTAssertNil(state.myVote(for: b))
    }

    func testTheCallersVotesFromTheStream() throws {
        var state = try snapshot()
        let a = UUID(uuidString: songA)!, b = UUID(uuidString: songB)!, c = UUID(uuidString: songC)!
        // cast on another device: only the voter's copy carries `my_vote`
        state.apply(try event("votes_updated", 11, ["queued_song_id": songB, "total_votes": 2, "my_vote": 1]))
        XCTAssertEqual(state.myVote(for: b), .up)
        state.apply(try event("votes_updated", 12, ["queued_song_id": songA, "total_votes": 0, "my_vote": 0]))
        XCTAssertNil(state.myVote(for: a))
        // someone else's vote: no `my_vote`, mine stays
        state.apply(try event("votes_updated", 13, ["queued_song_id": songB, "total_votes": 3]))
        XCTAssertEqual(state.myVote(for: b), .up)
        // the adder's copy of song_added: adding is an upvote
        state.apply(try event("song_added", 14, ["queued_song": song(songC, seq: 3, votes: 1), "my_vote": 1]))
        XCTAssertEqual(state.myVote(for: c), .up)
    }

    func testTheCallersOwnEmailSurvivesEvents() throws {
        var body = try JSONSerialization.jsonObject(
            with: try CodableHelper().jsonEncoder.encode(try snapshot().current)) as! [String: Any]
        var members = body["members"] as! [[String: Any]]
        for index in members.indices where ((members[index]["user"] as! [String: Any])["id"] as? String)?.lowercased() == leo {
            members[index]["user"] = ["id": leo, "username": "leo", "email": "leo@example.com", "avatar_url": NSNull()]
        }
        body["members"] = members
        var state = PartyState(snapshot: try decode(CurrentSessionResponse.self, body))
        // events never carry an email; the caller's own comes back from the snapshot
        state.apply(try event("song_added", 11, ["queued_song": song(songC, seq: 3, votes: 1)]))
        XCTAssertEqual(state.queue.first { $0.id == UUID(uuidString: songC)! }?.addedBy.email, "leo@example.com")
        let promoted: [String: Any] = [
            "member": ["user": user(leo, "leo"), "role": "cohost", "joined_at": "2025-11-22T10:31:00Z"],
        ]
        state.apply(try event("member_role_changed", 12, promoted))
        XCTAssertEqual(state.members.first { $0.role == .cohost }?.user.email, "leo@example.com")
        XCTAssertEqual(state.members.first { $0.role == .host }?.user.email, nil)
    }
}
