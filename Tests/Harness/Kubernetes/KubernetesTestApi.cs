using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using k8s;
using k8s.Models;

namespace Herald.Tests.Harness.Kubernetes;

/// <summary>
/// The Kubernetes API the operator tests run against, chosen as controller-runtime's envtest does: when
/// <c>KUBEBUILDER_ASSETS</c> names a folder holding <c>etcd</c> and <c>kube-apiserver</c>, a real control plane started
/// from them (with the CRDs applied); otherwise the in-process <see cref="StandInApiServer"/>.
/// </summary>
public sealed class KubernetesTestApi : IAsyncDisposable
{
    private readonly List<Process> _processes = [];
    private string? _workDirectory;

    public KubernetesClientConfiguration Configuration { get; private set; } = null!;
    /// <summary>The stand-in when that is what runs (tests that reach into its store need it); null with real binaries.</summary>
    public StandInApiServer? StandIn { get; private set; }

    /// <summary>A client for the test itself: its requests are not held to the operator's Role.</summary>
    public IKubernetes NewClient() => new k8s.Kubernetes(Configuration, new TestClientMarker());

    public static string? Assets =>
        Environment.GetEnvironmentVariable("KUBEBUILDER_ASSETS") is { Length: > 0 } dir &&
        File.Exists(Path.Combine(dir, "etcd")) && File.Exists(Path.Combine(dir, "kube-apiserver")) ? dir : null;

    public static async Task<KubernetesTestApi> StartAsync(IReadOnlyList<string> crdFiles, StandInOptions? standIn = null)
    {
        var api = new KubernetesTestApi();
        if (Assets is { } assets) await api.StartControlPlaneAsync(assets, crdFiles);
        else
        {
            // The operator's requests are held to the Role the AppHost deploys it with: every operator test shows it suffices.
            api.StandIn = await StandInApiServer.StartAsync((standIn ?? new StandInOptions()) with { Rules = Herald.AppHost.OperatorAccess.Rules });
            api.Configuration = new KubernetesClientConfiguration { Host = api.StandIn.Url };
        }
        return api;
    }

    // Not exercised on these machines (no kube-apiserver can be had): written to envtest's recipe — etcd on loopback,
    // kube-apiserver with a token for a system:masters user, then the CRDs, waited for until Established.
    private async Task StartControlPlaneAsync(string assets, IReadOnlyList<string> crdFiles)
    {
        _workDirectory = Directory.CreateTempSubdirectory("herald-envtest-").FullName;
        int etcdPort = FreePort(), peerPort = FreePort(), apiPort = FreePort();
        Start(Path.Combine(assets, "etcd"),
            $"--data-dir={_workDirectory}/etcd --listen-client-urls=http://127.0.0.1:{etcdPort} --advertise-client-urls=http://127.0.0.1:{etcdPort} --listen-peer-urls=http://127.0.0.1:{peerPort} --unsafe-no-fsync=true");

        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        await File.WriteAllTextAsync($"{_workDirectory}/tokens.csv", $"{token},admin,admin,system:masters\n");
        using (var rsa = RSA.Create(2048)) await File.WriteAllTextAsync($"{_workDirectory}/sa.pem", rsa.ExportRSAPrivateKeyPem());
        Start(Path.Combine(assets, "kube-apiserver"),
            $"--etcd-servers=http://127.0.0.1:{etcdPort} --bind-address=127.0.0.1 --secure-port={apiPort} --cert-dir={_workDirectory}/certs " +
            $"--token-auth-file={_workDirectory}/tokens.csv --authorization-mode=RBAC --service-cluster-ip-range=10.0.0.0/24 " +
            $"--service-account-issuer=https://localhost --service-account-key-file={_workDirectory}/sa.pem --service-account-signing-key-file={_workDirectory}/sa.pem");

        Configuration = new KubernetesClientConfiguration { Host = $"https://127.0.0.1:{apiPort}", AccessToken = token, SkipTlsVerify = true };
        using var client = NewClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try { await client.CoreV1.ListNamespaceAsync(); break; }
            catch (Exception) when (DateTime.UtcNow < deadline) { await Task.Delay(500); }
        }
        foreach (var file in crdFiles)
        {
            var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(await File.ReadAllTextAsync(file));
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
            while ((await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(crd.Metadata.Name)).Status?.Conditions?
                   .Any(c => c.Type == "Established" && c.Status == "True") != true)
                await Task.Delay(200);
        }
    }

    private void Start(string file, string arguments)
    {
        var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (StandIn is not null) await StandIn.DisposeAsync();
        foreach (var process in Enumerable.Reverse(_processes))
        {
            try { process.Kill(entireProcessTree: true); await process.WaitForExitAsync(); } catch (InvalidOperationException) { }
            process.Dispose();
        }
        if (_workDirectory is not null) Directory.Delete(_workDirectory, recursive: true);
    }
}

/// <summary>Marks a request as the test's own (<see cref="StandInApiServer.TestClientHeader"/>).</summary>
internal sealed class TestClientMarker : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Add(StandInApiServer.TestClientHeader, "true");
        return base.SendAsync(request, cancellationToken);
    }
}
