// The hand-written accessors of tools/swift-support: votes by UUID, whatever the case of
// `uuidString` on the platform (uppercase on Apple platforms and in swift-corelibs-foundation).

import Foundation
import QueueITAPI
import XCTest

final class MyVotesTests: XCTestCase {
    private let entry = UUID(uuidString: "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c")!
    private let other = UUID(uuidString: "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b")!

    private func response(myVotes: [String: Int]) throws -> CurrentSessionResponse {
        let user: [String: Any] = [
            "id": "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "username": "leo",
            "email": NSNull(), "avatar_url": NSNull(),
        ]
        let body: [String: Any] = [
            "session": [
                "id": "3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f", "join_code": "PARTY1",
                "created_at": "2025-11-22T10:30:00Z", "host": user, "status": "active",
                "ended_at": NSNull(), "member_count": 1,
            ],
            "queue": [],
            "playback": [
                "state": "stopped", "current": NSNull(), "started_at": NSNull(),
                "skip_votes": 0, "skip_votes_needed": 2,
            ],
            "settings": [
                "queue_locked": false, "allow_downvotes": true, "max_queued_per_user": 10,
                "max_track_duration_ms": NSNull(), "allow_explicit": true,
                "skip_vote_share": 0.5, "skip_vote_min": 2,
            ],
            "my_role": "host",
            "my_votes": myVotes,
            "seq": 3,
        ]
        let data = try JSONSerialization.data(withJSONObject: body)
        return try CodableHelper().jsonDecoder.decode(CurrentSessionResponse.self, from: data)
    }

    func testTheStringKeyTrapIsReal() throws {
        // What the wire holds (lowercase) is not what `uuidString` gives here.
        let state = try response(myVotes: [entry.uuidString.lowercased(): 1])
        XCTAssertNotEqual(entry.uuidString, entry.uuidString.lowercased())
        XCTAssertNil(state.myVotes[entry.uuidString])
    }

    func testMyVoteForAUUID() throws {
        let state = try response(myVotes: [entry.uuidString.lowercased(): 1,
                                           other.uuidString.lowercased(): -1])
        XCTAssertEqual(state.myVote(for: entry), .up)
        XCTAssertEqual(state.myVote(for: other), .down)
        XCTAssertNil(state.myVote(for: UUID()))
        XCTAssertEqual(state.myVotesByEntry, [entry: .up, other: .down])
    }

    func testKeysThatAreNotUUIDsAreSkipped() throws {
        let state = try response(myVotes: ["not-a-uuid": 1, entry.uuidString: -1])
        XCTAssertEqual(state.myVotesByEntry, [entry: .down])
        XCTAssertEqual(state.myVote(for: entry), .down)  // an uppercase key still matches
    }
}
