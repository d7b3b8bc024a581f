import Foundation

// Hand-written (not generated): `make generate` copies this file into the package.
// One member's view of a party, kept current by applying the realtime stream (a snapshot, then
// events in `seq` order) by the rules of openapi/queueit.yaml: the queue in play order (votes
// descending, then `added_seq`), `skip_votes_needed` recomputed when members or settings
// change, members host first. The realtime client feeds it; an app can also feed it events
// from `GET /sessions/{id}/events`.

/// A party as one member sees it, from a snapshot and the events after it.
public struct PartyState: Sendable, Hashable {
    /// The state in the shape of `GET /sessions/current`; `seq` is the last event applied.
    public private(set) var current: CurrentSessionResponse

    public var seq: Int64 { current.seq }
    public var queue: [QueuedSong] { current.queue }
    public var playback: Playback { current.playback }
    public var members: [Member] { current.members ?? [] }
    public var hasEnded: Bool { current.session.status == .ended }

    /// What `apply` did with an event.
    public enum Outcome: Sendable, Hashable {
        /// Applied: `seq` is the event's now.
        case applied
        /// Already in the state (a replayed or repeated event): nothing changed.
        case alreadyApplied
        /// Events between were missed: nothing changed. Refill `GET /events?since=seq`
        /// (or reconnect with `since`), then apply again.
        case gap(expected: Int64, got: Int64)
    }

    /// The caller as the snapshot showed them: the one user whose email is not null. Events
    /// never carry an email (every member receives them), so the state puts it back.
    private var myself: User?

    public init(snapshot: CurrentSessionResponse) {
        var state = snapshot
        state.queue = PartyState.inPlayOrder(state.queue)
        state.members = state.members.map(PartyState.inMemberOrder)
        current = state
        myself = snapshot.members?.first { $0.user.email != nil }?.user
    }

    /// Apply the next event. An event of a type this version does not know only moves `seq`.
    @discardableResult
    public mutating func apply(_ event: SessionEvent) -> Outcome {
        guard let seq = event.seq else { return .alreadyApplied }
        if seq <= current.seq { return .alreadyApplied }
        if seq > current.seq + 1 { return .gap(expected: current.seq + 1, got: seq) }
        switch event {
        case .typeSongAddedEvent(let e):
            var song = e.data.queuedSong
            song.addedBy = withMyEmail(song.addedBy)
            current.queue.removeAll { $0.id == song.id }
            current.queue = PartyState.inPlayOrder(current.queue + [song])
            // Only in the adder's own copy: adding is their upvote.
            if let mine = e.data.myVote { recordMyVote(mine, for: song.id) }
        case .typeSongRemovedEvent(let e):
            forget(entry: e.data.queuedSongId)
        case .typeVotesUpdatedEvent(let e):
            if let index = current.queue.firstIndex(where: { $0.id == e.data.queuedSongId }) {
                current.queue[index].votes = e.data.totalVotes
                current.queue = PartyState.inPlayOrder(current.queue)
            }
            // Only in the voter's own copy: their vote, from this device or another one.
            if let mine = e.data.myVote { recordMyVote(mine, for: e.data.queuedSongId) }
        case .typePlaybackChangedEvent(let e):
            current.playback = withMyEmail(e.data.playback)
            for entry in [e.data.playback.currentEntry, e.data.finishedEntry] {
                if let entry { forget(entry: entry.id) }
            }
        case .typeSkipVotesUpdatedEvent(let e):
            if current.playback.currentEntry?.id == e.data.queuedSongId {
                current.playback.skipVotes = e.data.skipVotes
                current.playback.skipVotesNeeded = e.data.skipVotesNeeded
            }
        case .typeMemberJoinedEvent(let e):
            upsert(member: e.data.member)
            setMemberCount(e.data.memberCount)
        case .typeMemberLeftEvent(let e):
            removeMember(e.data.userId)
            if let newHost = e.data.newHostId,
               let index = current.members?.firstIndex(where: { $0.user.id == newHost }),
               var promoted = current.members?[index] {
                promoted.role = .host
                upsert(member: promoted)
                current.session.host = promoted.user
            }
            setMemberCount(e.data.memberCount)
        case .typeMemberKickedEvent(let e):
            removeMember(e.data.userId)
            setMemberCount(e.data.memberCount)
        case .typeMemberRoleChangedEvent(let e):
            upsert(member: e.data.member)
        case .typeSettingsChangedEvent(let e):
            current.settings = e.data.settings
            recomputeSkipVotesNeeded()
        case .typeSessionEndedEvent(let e):
            current.session.status = .ended
            current.session.endedAt = e.createdAt
            current.session.memberCount = 0
            current.members = []
            current.playback = Playback(
                state: .stopped, current: nil, currentEntry: nil, startedAt: nil, skipVotes: 0,
                skipVotesNeeded: current.playback.skipVotesNeeded)
        case .typeSessionEndingEvent:
            break  // a warning: the session ends later unless someone acts
        case .unknown:
            break  // a newer server's event: its `seq` still counts
        }
        current.seq = seq
        return .applied
    }

    /// Record the caller's own vote once the server accepted it (`POST /songs/{id}/vote`), to
    /// show it before its `votes_updated` (which carries `my_vote` for the voter) arrives.
    public mutating func recordMyVote(_ value: VoteValue, for entry: UUID) {
        let key = entry.uuidString.lowercased()
        if value == .withdraw { current.myVotes[key] = nil } else { current.myVotes[key] = value }
    }

    /// The caller's vote on `entry`, if any.
    public func myVote(for entry: UUID) -> VoteValue? { current.myVote(for: entry) }

    /// `skip_votes_needed` by the spec's rule: max(skip_vote_min, ceil(share × member_count)).
    public static func skipVotesNeeded(settings: SessionSettings, memberCount: Int) -> Int {
        // The share has at most 3 decimals and the server computes exactly: round away the
        // binary error first (0.4 × 5 is 2.0000000000000004 in Double, and 2 on the server).
        let product = (settings.skipVoteShare * Double(memberCount) * 1e9).rounded() / 1e9
        return max(settings.skipVoteMin, Int(product.rounded(.up)))
    }

    // MARK: - Rules

    static func inPlayOrder(_ queue: [QueuedSong]) -> [QueuedSong] {
        queue.sorted { ($0.votes, -$0.addedSeq) > ($1.votes, -$1.addedSeq) }
    }

    static func inMemberOrder(_ members: [Member]) -> [Member] {
        func rank(_ role: MemberRole) -> Int {
            switch role {
            case .host: return 0
            case .cohost: return 1
            default: return 2
            }
        }
        return members.sorted {
            (rank($0.role), $0.joinedAt, $0.user.id.uuidString)
                < (rank($1.role), $1.joinedAt, $1.user.id.uuidString)
        }
    }

    private mutating func forget(entry: UUID) {
        current.queue.removeAll { $0.id == entry }
        current.myVotes[entry.uuidString.lowercased()] = nil
    }

    private func withMyEmail(_ user: User) -> User {
        guard let myself, user.id == myself.id, user.email == nil else { return user }
        var user = user
        user.email = myself.email
        return user
    }

    private func withMyEmail(_ playback: Playback) -> Playback {
        guard var entry = playback.currentEntry else { return playback }
        entry.addedBy = withMyEmail(entry.addedBy)
        return Playback(
            state: playback.state, current: entry, currentEntry: entry,
            startedAt: playback.startedAt, skipVotes: playback.skipVotes,
            skipVotesNeeded: playback.skipVotesNeeded)
    }

    private mutating func upsert(member: Member) {
        var member = member
        member.user = withMyEmail(member.user)
        var members = current.members ?? []
        members.removeAll { $0.user.id == member.user.id }
        members.append(member)
        current.members = PartyState.inMemberOrder(members)
    }

    private mutating func removeMember(_ userId: UUID) {
        current.members?.removeAll { $0.user.id == userId }
    }

    private mutating func setMemberCount(_ count: Int) {
        current.session.memberCount = count
        recomputeSkipVotesNeeded()
    }

    private mutating func recomputeSkipVotesNeeded() {
        current.playback.skipVotesNeeded = PartyState.skipVotesNeeded(
            settings: current.settings, memberCount: current.session.memberCount)
    }
}
