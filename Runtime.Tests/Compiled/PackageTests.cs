using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// The NuGet packages as a user meets them: <c>dotnet pack</c> of a copy of the sources (so the repository's own
/// build outputs are not touched while other test projects run) into a local folder, then a fresh consumer whose
/// nuget.config names only that folder and the normal feed. The consumer references the package <c>ModelGen</c>
/// alone, compiles a model (which fails to compile unless the generator inside the package ran), trains it one epoch
/// on Fashion-MNIST, and publishes as NativeAOT with no warning; the native binary trains too and runs the AVX2 path
/// (the package's build file sets the instruction set). A second consumer references only <c>ModelGen.Gpu</c> and
/// trains on ILGPU's CPU accelerator. Each run packs a version of its own, so the global package cache never serves
/// a stale copy.
/// </summary>
[Collection(NativeAotCollection.Name)]
public class PackageTests
{
    // Trains one epoch (or, with an argument naming a device, a few batches there) and prints what the test checks.
    const string ProgramSource = """
        using System;
        using System.Globalization;
        using ModelGen;
        using ModelGen.Cpu;

        var data = FashionMnist.Load();
        var (mean, std) = data.Train.FeatureStatistics();
        data.Train.Standardize(mean, std);
        data.Test.Standardize(mean, std);
        var model = new FashionMnistSample.FashionMlp(seed: 1);
        var train = data.Train;
        if (args.Length > 0)
        {
            model.To(Device.Parse(args[0]));
            train = data.Train.Take(1024);
        }
        model.Fit(train, epochs: 1, batchSize: 64, optimizer: new AdamW(2e-3f));
        var metrics = model.Evaluate(data.Test.Take(2000));
        Console.WriteLine("device " + model.Device);
        Console.WriteLine("simd " + CpuFeatures.Active);
        Console.WriteLine("accuracy " + (metrics.Accuracy ?? double.NaN).ToString("F4", CultureInfo.InvariantCulture));
        """;

    static string RepositoryRoot() => NativeAotTests.RepositoryRoot();

    static (int ExitCode, string Output) Run(string file, string arguments, string workingDirectory, int timeoutMs) =>
        NativeAotTests.Run(file, arguments, workingDirectory, timeoutMs);

    static void Succeeds((int ExitCode, string Output) result, string what) =>
        Assert.True(result.ExitCode == 0, $"{what} failed (exit code {result.ExitCode}):\n{result.Output}");

    static void NoWarnings(string log, string what)
    {
        var warnings = log.Split('\n').Where(l => Regex.IsMatch(l, @"warning [A-Z]+\d+")).ToList();
        Assert.True(warnings.Count == 0, what + " warnings:\n" + string.Join("\n", warnings));
    }

    static void CopySources(string root, string destination)
    {
        foreach (string file in new[] { "Directory.Build.props", "README.md" })
            File.Copy(Path.Combine(root, file), Path.Combine(destination, file));
        foreach (string project in new[] { "Generator", "Runtime", "Runtime.Gpu" })
        {
            string from = Path.Combine(root, project);
            foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(from, file);
                string first = relative.Split(Path.DirectorySeparatorChar)[0];
                if (first is "bin" or "obj") continue;
                string target = Path.Combine(destination, project, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
        }
    }

    static string WriteConsumer(string directory, string feed, string package, string version)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(directory, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <WarningsNotAsErrors>NU1603;NU1608</WarningsNotAsErrors>
                <InvariantGlobalization>true</InvariantGlobalization>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{package}" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        // The model is the Fashion-MNIST sample's own file.
        File.Copy(Path.Combine(RepositoryRoot(), "Samples", "FashionMnist", "FashionMlp.cs"), Path.Combine(directory, "FashionMlp.cs"));
        File.WriteAllText(Path.Combine(directory, "Program.cs"), ProgramSource);
        return directory;
    }

    static double Accuracy(string log)
    {
        var match = Regex.Match(log, @"accuracy (\d\.\d+)");
        Assert.True(match.Success, "no accuracy in:\n" + log);
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void PackedPackagesBuildTrainAndPublishAFreshConsumer()
    {
        string root = RepositoryRoot();
        string work = Path.Combine(Path.GetTempPath(), $"modelgen-package-{Guid.NewGuid():N}");
        string version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) +
            Random.Shared.Next(1000, 9999).ToString(CultureInfo.InvariantCulture);
        try
        {
            string sources = Path.Combine(work, "src"), feed = Path.Combine(work, "feed");
            Directory.CreateDirectory(sources);
            CopySources(root, sources);
            foreach (string project in new[] { "Runtime", "Runtime.Gpu" })
            {
                var pack = Run("dotnet", $"pack {project} -c Release -o \"{feed}\" -p:Version={version} --nologo", sources, 600_000);
                Succeeds(pack, "dotnet pack " + project);
                NoWarnings(pack.Output.Replace("warning NU1603", "").Replace("warning NU1608", ""), "dotnet pack " + project);
            }

            // The package layout: the generator as an analyzer (never as a library), the runtime with its XML docs,
            // the AOT build file, the README; the GPU package depends on ModelGen with its analyzers kept.
            using (var zip = ZipFile.OpenRead(Path.Combine(feed, $"ModelGen.{version}.nupkg")))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
                foreach (string expected in new[] { "analyzers/dotnet/cs/ModelGen.Generator.dll", "lib/net10.0/ModelGen.Runtime.dll",
                    "lib/net10.0/ModelGen.Runtime.xml", "buildTransitive/ModelGen.targets", "README.md" })
                    Assert.True(entries.Contains(expected), $"ModelGen.{version}.nupkg lacks {expected}: {string.Join(", ", entries)}");
                Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generator", StringComparison.Ordinal));
            }
            Assert.True(File.Exists(Path.Combine(feed, $"ModelGen.{version}.snupkg")), "no symbol package");
            using (var zip = ZipFile.OpenRead(Path.Combine(feed, $"ModelGen.Gpu.{version}.nupkg")))
            {
                using var reader = new StreamReader(zip.GetEntry("ModelGen.Gpu.nuspec")!.Open());
                string nuspec = reader.ReadToEnd();
                // include="All": a consumer of ModelGen.Gpu alone gets ModelGen's analyzers (the generator) and build files.
                Assert.Matches($"<dependency id=\"ModelGen\" version=\"{Regex.Escape(version)}\" include=\"All\" />", nuspec);
                Assert.Contains("<dependency id=\"ILGPU\"", nuspec);
            }

            // A CPU consumer: build (warnings are errors there), train one epoch, publish NativeAOT and train again.
            string cpu = WriteConsumer(Path.Combine(work, "cpu"), feed, "ModelGen", version);
            var build = Run("dotnet", "build -c Release --nologo", cpu, 600_000);
            Succeeds(build, "building the consumer");
            NoWarnings(build.Output, "building the consumer");
            Assert.True(File.Exists(Path.Combine(cpu, "obj", "project.assets.json")));
            var run = Run("dotnet", "run -c Release --no-build", cpu, 300_000);
            Succeeds(run, "running the consumer");
            Assert.True(Accuracy(run.Output) >= 0.80, "one epoch should reach 0.80 test accuracy:\n" + run.Output);

            string published = Path.Combine(work, "aot");
            var publish = Run("dotnet", $"publish -c Release -r linux-x64 -p:PublishAot=true -o \"{published}\" --nologo", cpu, 600_000);
            Succeeds(publish, "publishing the consumer NativeAOT");
            NoWarnings(publish.Output, "publishing the consumer NativeAOT");
            var native = Run(Path.Combine(published, "Consumer"), "", published, 300_000);
            Succeeds(native, "the consumer's native binary");
            Assert.True(Accuracy(native.Output) >= 0.80, native.Output);
            // NativeAOT's default instruction set has no AVX: the package's build file must have set x86-64-v3.
            Assert.Matches(@"simd (Avx2|Avx512)", native.Output);

            // A GPU consumer that references ModelGen.Gpu only: the generator still comes (through ModelGen) and the
            // model trains on ILGPU's CPU accelerator.
            string gpu = WriteConsumer(Path.Combine(work, "gpu"), feed, "ModelGen.Gpu", version);
            var gpuRun = Run("dotnet", "run -c Release -- gpu-emulator:0", gpu, 600_000);
            Succeeds(gpuRun, "running the GPU consumer");
            Assert.Contains("device gpu-emulator:0", gpuRun.Output);
            Assert.True(Accuracy(gpuRun.Output) >= 0.60, "1,024 samples on the GPU emulator should reach 0.60:\n" + gpuRun.Output);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }
}
