using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Herald.AppHost.Deployment.Manifest;
using Herald.Tests.Harness;
using Npgsql;
using StackExchange.Redis;

namespace Herald.Tests.Deployment;

/// <summary>
/// The manifest azd and aspirate consume: only resource types they know, secrets as secret parameters they can prompt
/// for or generate, no secret value anywhere — and connection strings that still resolve to working ones.
/// </summary>
public sealed partial class AspireManifestTests(PublishedManifest published) : IClassFixture<PublishedManifest>
{
    private static readonly string[] ConsumableTypes = ["project.v0", "project.v1", "container.v0", "container.v1", "parameter.v0", "value.v0"];

    private readonly AspireManifest _manifest = published.Manifest;
    private readonly string _path = published.Path;
    private readonly IReadOnlyDictionary<string, string> _secrets = published.Secrets;

    [Fact]
    public void Only_resource_types_azd_and_aspirate_consume()
    {
        var types = _manifest.Resources.Values.Select(r => r.Type).ToList();

        Assert.All(types, type => Assert.Contains(type, ConsumableTypes));
        Assert.DoesNotContain("executable.v0", types);
        Assert.Equal(["admin-api-key", "api", "herald", "kafka", "operator", "postgres", "postgres-password", "processor", "redis", "redis-password", "sealing-keys"],
            _manifest.Resources.Keys.Order(StringComparer.Ordinal));
        // Containers for the infrastructure and projects for the services, whatever mode the AppHost would run in locally.
        Assert.All((string[])["postgres", "redis", "kafka"], name => Assert.StartsWith("container.", _manifest[name].Type, StringComparison.Ordinal));
        Assert.All((string[])["api", "processor", "operator"], name => Assert.StartsWith("project.", _manifest[name].Type, StringComparison.Ordinal));
        Assert.Equal("value.v0", _manifest["herald"].Type);
    }

    [Fact]
    public void Every_secret_is_a_secret_parameter_azd_can_generate()
    {
        foreach (var name in _secrets.Keys)
        {
            var parameter = _manifest[name];
            Assert.Equal("parameter.v0", parameter.Type);
            Assert.True(parameter.IsSecret, name);
            Assert.NotNull(parameter.Generate);
            Assert.Null(parameter.DefaultValue);
        }
    }

    [Fact]
    public async Task No_secret_value_is_written_and_every_password_is_a_parameter_reference()
    {
        var text = await File.ReadAllTextAsync(_path);

        Assert.All(_secrets.Values, secret => Assert.DoesNotContain(secret, text, StringComparison.Ordinal));
        var inlinePasswords = InlinePassword().Matches(text).Select(m => m.Value).ToList();
        Assert.Empty(inlinePasswords);
    }

    [Theory]
    [InlineData("api")]
    [InlineData("processor")]
    public void The_services_connection_strings_resolve_to_working_ones(string service)
    {
        var resolver = new ManifestExpressionResolver(_manifest, new Dictionary<string, int> { ["api"] = 8080, ["processor"] = 8080 });
        var env = _manifest[service].Env.ToDictionary(e => e.Key, e => resolver.Resolve(e.Value).Render(parameter => _secrets[parameter]));

        var database = new NpgsqlConnectionStringBuilder(env["ConnectionStrings__herald"]);
        Assert.Equal(("postgres", 5432, "postgres", _secrets["postgres-password"], "herald"),
            (database.Host, database.Port, database.Username, database.Password, database.Database));

        var redis = ConfigurationOptions.Parse(env["ConnectionStrings__redis"]);
        Assert.Equal("Unspecified/redis:6379", Assert.Single(redis.EndPoints).ToString());
        Assert.Equal(_secrets["redis-password"], redis.Password);
        Assert.False(redis.Ssl);

        Assert.Equal("kafka:9092", env["ConnectionStrings__kafka"]);
        Assert.DoesNotContain(env.Keys, key => key.StartsWith("HERALD_", StringComparison.Ordinal) || key.StartsWith("REDIS_", StringComparison.Ordinal));
    }

    [Fact]
    public void Grpc_is_published_on_the_port_the_project_file_declares()
    {
        var api = _manifest["api"];
        var grpc = api.Binding("grpc");

        Assert.Equal(AppHostPublish.ContainerSettings("ApiService").PortFor("grpc"), grpc.TargetPort);
        Assert.True(grpc.IsCleartextHttp2);
        Assert.Contains(KeyValuePair.Create("GRPC_PORT", "{api.bindings.grpc.targetPort}"), api.Env);
    }

    [Fact]
    public void Each_project_has_at_most_the_one_external_http_ingress_azd_supports()
    {
        foreach (var project in _manifest.Projects)
        {
            // azd groups a project's bindings by target port (none: the default port) and gives a Container App one
            // external ingress, HTTP only.
            var external = project.Bindings.Where(b => b.External).ToList();
            Assert.True(external.Select(b => b.TargetPort).Distinct().Count() <= 1,
                $"{project.Name}: external bindings on several ports: {string.Join(", ", external.Select(b => b.Name))}");
            Assert.All(external, b => Assert.Contains(b.Scheme, new[] { "http", "https" }));
        }
    }

    [Fact]
    public void A_projects_https_binding_has_no_port_in_the_cluster()
    {
        var resolver = new ManifestExpressionResolver(_manifest, new Dictionary<string, int> { ["api"] = 8080, ["processor"] = 8080 });

        Assert.Equal("http://api:8080", resolver.Resolve("{api.bindings.http.url}").LiteralText);
        var refused = Assert.Throws<DistributedApplicationException>(() => resolver.Resolve("{api.bindings.https.url}"));
        Assert.Contains("serves no TLS", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_operator_is_left_out_for_a_target_without_a_Kubernetes_API()
    {
        Assert.Equal("project.v0", _manifest["operator"].Type);
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"herald-manifest-{Guid.NewGuid():N}.json");
        try
        {
            await AppHostPublish.ManifestAsync(path, "--Herald:Operator:Publish=false");
            var without = AspireManifest.Load(path);
            Assert.DoesNotContain("operator", without.Resources.Keys);
            Assert.Equal(_manifest.Resources.Keys.Where(k => k != "operator").Order(StringComparer.Ordinal), without.Resources.Keys.Order(StringComparer.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    // A password given as anything but a {parameter.value} reference.
    [GeneratedRegex("(?i)password[=:]\\s*(?!\\{)[^;,\"\\s]+")]
    private static partial Regex InlinePassword();
}

/// <summary>The manifest, published once for the class by an AppHost that knows a value for every secret parameter.</summary>
public sealed class PublishedManifest : IAsyncLifetime
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"herald-manifest-{Guid.NewGuid():N}.json");

    public IReadOnlyDictionary<string, string> Secrets { get; } = new Dictionary<string, string>
    {
        ["postgres-password"] = Secret(),
        ["redis-password"] = Secret(),
        ["admin-api-key"] = Secret(),
        ["sealing-keys"] = Secret(),
    };

    public AspireManifest Manifest { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await AppHostPublish.ManifestAsync(Path, [.. Secrets.Select(s => $"--Parameters:{s.Key}={s.Value}")]);
        Manifest = AspireManifest.Load(Path);
    }

    public Task DisposeAsync()
    {
        File.Delete(Path);
        return Task.CompletedTask;
    }

    private static string Secret() => RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 32);
}
