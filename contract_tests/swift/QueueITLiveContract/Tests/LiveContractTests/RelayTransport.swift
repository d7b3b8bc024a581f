// The realtime transport for Linux CI: FoundationNetworking cannot open WebSockets here, so each
// connection is a relay process (contract_tests/ct_ws_relay.py, Python `websockets`) that holds
// a real socket to the live server and passes text frames as JSON lines over pipes. PartyFeed's
// logic is the same as over URLSessionWebSocketTask. The test can cut the socket off (kill the
// relay: the server sees the TCP connection drop) and drop one event frame (a gap on the client
// side that only `GET /events` can fill).

import Foundation
import Glibc
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import QueueITAPI

final class RelayTransport: RealtimeTransport, @unchecked Sendable {
    private let python: String
    private let script: String
    private let lock = NSLock()
    private var urls: [URL] = []
    private var live: RelayConnection?
    private var dropNext = false
    private var offline = false
    private var droppedSeqs: [Int64] = []

    init(python: String, script: String) {
        self.python = python
        self.script = script
    }

    /// The URL of every connection opened so far (to see `since` on reconnects).
    var connectedURLs: [URL] { locked { urls } }
    /// The seqs of the event frames dropped by `dropNextEvent()`.
    var dropped: [Int64] { locked { droppedSeqs } }

    /// The phone loses the network: the current relay is killed (the socket drops without a
    /// close frame) and connecting fails until `reconnectNetwork()`.
    func cutOff() {
        let current = locked {
            offline = true
            return live
        }
        current?.kill()
    }

    func reconnectNetwork() {
        locked { offline = false }
    }

    /// The next event frame (one with a `seq`, not a snapshot) never reaches the client.
    func dropNextEvent() {
        locked { dropNext = true }
    }

    /// Whether to drop this frame (called by the connection for each frame).
    fileprivate func shouldDrop(_ text: String) -> Bool {
        guard let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["type"] as? String != "snapshot",
              let seq = object["seq"] as? NSNumber
        else { return false }
        return locked {
            guard dropNext else { return false }
            dropNext = false
            droppedSeqs.append(seq.int64Value)
            return true
        }
    }

    func connect(_ request: URLRequest) async throws -> any RealtimeConnection {
        guard let url = request.url else { throw RealtimeSocketClosed(code: nil, reason: "no URL") }
        if locked({ offline }) { throw URLError(.notConnectedToInternet) }
        let connection = try RelayConnection(python: python, script: script, transport: self)
        locked {
            urls.append(url)
            live = connection
        }
        var headers: [String: String] = [:]
        for (name, value) in request.allHTTPHeaderFields ?? [:] { headers[name] = value }
        try connection.command(["url": url.absoluteString, "headers": headers])
        guard let first = await connection.lines.next().flatMap(RelayConnection.parse) else {
            throw RealtimeSocketClosed(code: nil, reason: "the relay exited")
        }
        if first["open"] as? Bool == true { return connection }
        connection.kill()
        throw RealtimeSocketClosed(
            code: (first["closed"] as? NSNumber)?.intValue,
            reason: first["reason"] as? String ?? "refused")
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

final class RelayConnection: RealtimeConnection, @unchecked Sendable {
    let lines = LineQueue()
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let writeLock = NSLock()
    private weak var transport: RelayTransport?

    init(python: String, script: String, transport: RelayTransport) throws {
        self.transport = transport
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let handle = output.fileHandleForReading
        let queue = lines
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer = Data(buffer[buffer.index(after: newline)...])
                    queue.push(line)
                }
            }
            queue.end()
        }
    }

    func command(_ object: [String: Any]) throws {
        var data = try JSONSerialization.data(withJSONObject: object)
        data.append(0x0A)
        writeLock.lock()
        defer { writeLock.unlock() }
        guard process.isRunning else { throw RealtimeSocketClosed(code: nil, reason: "relay gone") }
        try input.fileHandleForWriting.write(contentsOf: data)
    }

    func send(_ text: String) async throws {
        try command(["send": text])
    }

    func receive() async throws -> String {
        while true {
            guard let text = await lines.next() else {
                if Task.isCancelled { throw CancellationError() }
                throw RealtimeSocketClosed(code: nil, reason: "the relay exited")
            }
            guard let line = Self.parse(text) else { continue }
            if let frame = line["frame"] as? String {
                if transport?.shouldDrop(frame) == true { continue }
                return frame
            }
            if line.keys.contains("closed") {
                throw RealtimeSocketClosed(
                    code: (line["closed"] as? NSNumber)?.intValue,
                    reason: line["reason"] as? String ?? "")
            }
        }
    }

    func close(code: Int) async {
        try? command(["close": code])
        closeInput()
    }

    private func closeInput() {
        writeLock.lock()
        defer { writeLock.unlock() }
        try? input.fileHandleForWriting.close()
    }

    static func parse(_ line: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    /// Kill the relay and wait until it is gone. SIGKILL: a process started from the test
    /// inherits a signal mask that blocks SIGTERM.
    func kill() {
        guard process.isRunning else { return }
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { usleep(2_000) }
    }

    deinit {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}

/// The relay's stdout lines, handed to one reader at a time; a line is never lost to a cancelled
/// wait.
final class LineQueue: @unchecked Sendable {
    typealias Line = String
    private let lock = NSLock()
    private var pending: [Line] = []
    private var ended = false
    private var waiter: CheckedContinuation<Line?, Never>?

    func push(_ line: Line) {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume(returning: line)
        } else {
            pending.append(line)
            lock.unlock()
        }
    }

    func end() {
        lock.lock()
        ended = true
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: nil)
    }

    /// The next line; nil once the relay's output ended, or when the waiting task is cancelled.
    func next() async -> Line? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Line?, Never>) in
                lock.lock()
                if !pending.isEmpty {
                    let line = pending.removeFirst()
                    lock.unlock()
                    continuation.resume(returning: line)
                } else if ended || Task.isCancelled {
                    lock.unlock()
                    continuation.resume(returning: nil)
                } else {
                    waiter = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            lock.lock()
            let waiter = self.waiter
            self.waiter = nil
            lock.unlock()
            waiter?.resume(returning: nil)
        }
    }
}
