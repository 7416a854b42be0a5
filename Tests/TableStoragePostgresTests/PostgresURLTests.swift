import PostgresNIO
import TableStoragePostgres
import Testing

@Suite("PostgresURL")
struct PostgresURLTests {
    @Test("parses user, password, host, port, database and sslmode; percent-decodes")
    func parses() throws {
        let url = try PostgresURL("postgres://har%40vest:p%3Ass@db.example.com:6543/tweets%20db?sslmode=verify-full")
        #expect(url.user == "har@vest")
        #expect(url.host == "db.example.com")
        #expect(url.port == 6543)
        #expect(url.database == "tweets db")
        #expect(url.tls == .verifyFull)
        #expect(url.hasPassword)
        let configuration = url.client()
        #expect(configuration.password == "p:ss")
        #expect(configuration.username == "har@vest")
        #expect(configuration.host == "db.example.com")
        #expect(configuration.port == 6543)
        #expect(configuration.database == "tweets db")
    }

    @Test("defaults: port 5432, sslmode prefer; postgresql:// too; IPv6 in brackets; the password from the caller")
    func defaults() throws {
        let url = try PostgresURL("postgresql://harvest@127.0.0.1/tweets", password: "from-PGPASSWORD")
        #expect(url.port == 5432)
        #expect(url.tls == .prefer)
        #expect(url.client().password == "from-PGPASSWORD")
        let own = try PostgresURL("postgres://harvest:own@[::1]:5433/tweets?sslmode=disable", password: "fallback")
        #expect(own.host == "::1")
        #expect(own.port == 5433)
        #expect(own.tls == .disable)
        #expect(own.client().password == "own", "the URL's password wins")
        #expect(!(try PostgresURL("postgres://harvest@h/d")).hasPassword)
    }

    @Test("the password never appears in the description")
    func redacts() throws {
        let url = try PostgresURL("postgres://harvest:s3cr3t-pw@127.0.0.1:5432/tweets?sslmode=require")
        #expect(url.description == "postgres://harvest@127.0.0.1:5432/tweets?sslmode=require")
        #expect(!String(describing: url).contains("s3cr3t-pw"))
        #expect(!String(reflecting: url).contains("s3cr3t-pw"))
        var dumped = ""
        dump(url, to: &dumped)
        #expect(dumped.contains("127.0.0.1"))
        #expect(!dumped.contains("s3cr3t-pw"), "a dump leaves the password out: \(dumped)")
    }

    @Test(
        "malformed URLs are typed errors that never quote the password",
        arguments: [
            ("mysql://u:s3cr3t-pw@h/d", PostgresURLError.Code.scheme),
            ("postgres://h:5432/d", .user),
            ("postgres://:s3cr3t-pw@h/d", .user),
            ("postgres://u:s3cr3t-pw@/d", .host),
            ("postgres://u:s3cr3t-pw@h:0/d", .port),
            ("postgres://u:s3cr3t-pw@h:99999/d", .port),
            ("postgres://u:s3cr3t-pw@h:x/d", .port),
            ("postgres://u:s3cr3t-pw@h:5432", .database),
            ("postgres://u:s3cr3t-pw@h:5432/", .database),
            ("postgres://u:s3cr3t-pw@h/d?sslmode=sometimes", .parameter),
            ("postgres://u:s3cr3t-pw@h/d?password=x", .parameter),
            ("postgres://u:s3cr3t-pw@[::1/d", .host),
            ("postgres://u:%zz@h/d", .password),
        ])
    func refuses(text: String, code: PostgresURLError.Code) throws {
        let error = #expect(throws: PostgresURLError.self) { try PostgresURL(text) }
        #expect(error?.code == code)
        #expect(error.map { !"\($0)".contains("s3cr3t-pw") } ?? false)
    }
}
