//
// CurrentSessionResponse+MyVotes.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/CurrentSessionResponse+MyVotes.swift (hand-written, not generated)
//
import Foundation

// Hand-written (not generated): `make generate` copies this file into the package.
// JSON object keys are strings, so openapi-generator types `my_votes` `[String: VoteValue]`
// (neither Swift generator reads `propertyNames: {format: uuid}`). The server writes lowercase
// UUIDs, and `UUID.uuidString` is uppercase on Apple platforms, so
// `myVotes[entry.id.uuidString]` is always nil there. These accessors look votes up by `UUID`.
extension CurrentSessionResponse {
    /// The caller's votes by queued entry id; keys that are not UUIDs are skipped.
    public var myVotesByEntry: [UUID: VoteValue] {
        var votes: [UUID: VoteValue] = [:]
        for (key, value) in myVotes {
            if let id = UUID(uuidString: key) { votes[id] = value }
        }
        return votes
    }

    /// The caller's vote on the queued entry `entryID` (nil when they have not voted on it).
    public func myVote(for entryID: UUID) -> VoteValue? {
        myVotes[entryID.uuidString.lowercased()] ?? myVotesByEntry[entryID]
    }
}
