using System.Reflection;
using System.Text.Json.Serialization;
using Herald.Operator.Resources;
using Herald.Tests.Harness;
using k8s;
using k8s.Models;

namespace Herald.Tests.Operator;

/// <summary>The CRDs in Operator/Crds: valid against the Kubernetes schemas, and in step with the operator's types.</summary>
public sealed class CrdTests
{
    private static readonly string[] Files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Crds"), "*.yaml");

    private static V1CustomResourceDefinition Read(string file) => KubernetesYaml.Deserialize<V1CustomResourceDefinition>(File.ReadAllText(file), strict: true);

    public static TheoryData<string, Type> Kinds => new()
    {
        { "heraldapplications.herald.dev", typeof(HeraldApplicationSpec) },
        { "heraldeventtypes.herald.dev", typeof(HeraldEventTypeSpec) },
        { "webhookendpoints.herald.dev", typeof(WebhookEndpointSpec) },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_CRD_has_a_status_subresource_printer_columns_and_a_schema_for_every_field_of_the_spec(string name, Type spec)
    {
        var crd = Read(Assert.Single(Files, f => Path.GetFileName(f) == name + ".yaml"));
        Assert.Equal(name, crd.Metadata.Name);
        Assert.Equal(ResourceGroup.Group, crd.Spec.Group);
        Assert.Equal("Namespaced", crd.Spec.Scope);
        var version = Assert.Single(crd.Spec.Versions);
        Assert.Equal(ResourceGroup.Version, version.Name);
        Assert.NotNull(version.Subresources?.Status);
        Assert.Contains(version.AdditionalPrinterColumns, c => c.Name == "Ready");
        Assert.Contains(version.AdditionalPrinterColumns, c => c.JsonPath == ".status.heraldId");

        var schema = version.Schema.OpenAPIV3Schema;
        var fields = spec.GetProperties().Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name).ToHashSet();
        Assert.Equal(fields, schema.Properties["spec"].Properties.Keys.ToHashSet());
        var status = typeof(ResourceStatus).GetProperties().Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name).ToHashSet();
        Assert.Equal(status, schema.Properties["status"].Properties.Keys.ToHashSet());
        Assert.True(crd.Spec.Names.Plural == name.Split('.')[0]);
    }

    [Fact]
    public Task The_CRDs_are_valid_against_the_Kubernetes_schemas() =>
        // Read strictly: an unknown field fails here.
        KubernetesSchemas.AssertValidAsync([.. Files.Select(Read)]);
}
