using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ModelGen;

namespace CharSamples;

/// <summary>
/// The character corpus of the text samples: the English fortune cookies of Debian's <c>fortunes</c> package
/// (plain text files under /usr/share/games/fortunes, about 2.5 MB; `scripts/ensure-corpus.sh` installs it), as
/// printable ASCII plus newline (96 symbols; other characters are dropped). The text is cut into blocks of 2,048
/// characters; every tenth block is held out, the rest is the training text.
/// </summary>
public sealed class CharCorpus
{
    /// <summary>Newline is symbol 0; ' ' … '~' are 1 … 95.</summary>
    public const int Vocabulary = 96;

    public CharCorpus(string train, string heldOut)
    {
        Train = Encode(train);
        HeldOut = Encode(heldOut);
    }

    public byte[] Train { get; }

    public byte[] HeldOut { get; }

    public static int Symbol(char c) => c == '\n' ? 0 : c >= ' ' && c <= '~' ? c - ' ' + 1 : -1;

    public static char Char(int symbol) => symbol == 0 ? '\n' : (char)(symbol - 1 + ' ');

    static byte[] Encode(string text) => text.Select(Symbol).Where(s => s >= 0).Select(s => (byte)s).ToArray();

    public static string Decode(IEnumerable<int> symbols) => new(symbols.Select(Char).ToArray());

    /// <summary>Loads the corpus from <paramref name="directory"/> (default: $FORTUNES_DIR or /usr/share/games/fortunes).</summary>
    public static CharCorpus Load(string? directory = null)
    {
        directory ??= Environment.GetEnvironmentVariable("FORTUNES_DIR") ?? "/usr/share/games/fortunes";
        if (!Directory.Exists(directory))
            throw new FileNotFoundException($"The fortunes corpus is not in {directory}: run scripts/ensure-corpus.sh (installs the Debian package 'fortunes').");
        var files = Directory.GetFiles(directory).Where(f => Path.GetExtension(f).Length == 0 && !Path.GetFileName(f).Contains("art", StringComparison.Ordinal))
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"No fortune files in {directory}.");
        var text = new StringBuilder();
        foreach (var f in files) text.Append(File.ReadAllText(f, Encoding.Latin1).Replace("\t", "    ", StringComparison.Ordinal));
        var all = text.ToString();
        var train = new StringBuilder();
        var held = new StringBuilder();
        const int Block = 2048;
        for (int i = 0, b = 0; i < all.Length; i += Block, b++)
            (b % 10 == 9 ? held : train).Append(all, i, Math.Min(Block, all.Length - i));
        return new CharCorpus(train.ToString(), held.ToString());
    }

    /// <summary>Cross-entropy (nats per character) of the held-out text under the training text's character frequencies (add-one smoothed).</summary>
    public double UnigramNats()
    {
        var counts = new double[Vocabulary];
        foreach (byte s in Train) counts[s]++;
        double total = Train.Length + Vocabulary;
        double sum = 0;
        foreach (byte s in HeldOut) sum -= Math.Log((counts[s] + 1) / total);
        return sum / HeldOut.Length;
    }

    /// <summary>Cross-entropy (nats per character) of the held-out text under the training text's character-pair frequencies (add-one smoothed).</summary>
    public double BigramNats()
    {
        var counts = new double[Vocabulary, Vocabulary];
        var rows = new double[Vocabulary];
        for (int i = 1; i < Train.Length; i++) { counts[Train[i - 1], Train[i]]++; rows[Train[i - 1]]++; }
        double sum = 0;
        for (int i = 1; i < HeldOut.Length; i++) sum -= Math.Log((counts[HeldOut[i - 1], HeldOut[i]] + 1) / (rows[HeldOut[i - 1]] + Vocabulary));
        return sum / (HeldOut.Length - 1);
    }

    /// <summary>Fills a batch of random training windows: ids (batch, time) and one-hot next-character targets (batch, time, V).</summary>
    public void Batch(Random rng, byte[] text, int batch, int time, float[] ids, float[] targets)
    {
        Array.Clear(targets);
        for (int b = 0; b < batch; b++)
        {
            int start = rng.Next(text.Length - time - 1);
            for (int t = 0; t < time; t++)
            {
                ids[b * time + t] = text[start + t];
                targets[(b * time + t) * Vocabulary + text[start + t + 1]] = 1;
            }
        }
    }

    /// <summary>
    /// The held-out loss in nats per character: the model's compiled Infer over <paramref name="windows"/> windows of the
    /// held-out text spread evenly over it, every position predicting its next character.
    /// </summary>
    public double HeldOutNats(CompiledProgram program, int windows, int time, int batch)
    {
        var ids = new float[batch * time];
        var logits = new float[batch * time * Vocabulary];
        double sum = 0;
        long count = 0;
        int stride = (HeldOut.Length - time - 1) / windows;
        for (int w0 = 0; w0 < windows; w0 += batch)
        {
            int n = Math.Min(batch, windows - w0);
            for (int b = 0; b < n; b++)
                for (int t = 0; t < time; t++) ids[b * time + t] = HeldOut[(w0 + b) * stride + t];
            program.Infer(ids.AsSpan(0, n * time), n, logits.AsSpan(0, n * time * Vocabulary));
            for (int b = 0; b < n; b++)
                for (int t = 0; t < time; t++)
                {
                    var row = logits.AsSpan((b * time + t) * Vocabulary, Vocabulary);
                    float max = float.NegativeInfinity;
                    foreach (float v in row) max = Math.Max(max, v);
                    double z = 0;
                    foreach (float v in row) z += Math.Exp(v - max);
                    int next = HeldOut[(w0 + b) * stride + t + 1];
                    sum += max + Math.Log(z) - row[next];
                    count++;
                }
        }
        return sum / count;
    }

    /// <summary>
    /// Samples <paramref name="length"/> characters after <paramref name="prompt"/> (at least <paramref name="time"/>
    /// symbols) with the compiled Infer over a sliding window of the last <paramref name="time"/> characters, at
    /// <paramref name="temperature"/>.
    /// </summary>
    public static string Generate(CompiledProgram program, IReadOnlyList<byte> prompt, int time, int length, double temperature, Random rng)
    {
        var text = prompt.Select(b => (int)b).ToList();
        var ids = new float[time];
        var logits = new float[time * Vocabulary];
        var p = new double[Vocabulary];
        for (int i = 0; i < length; i++)
        {
            for (int t = 0; t < time; t++) ids[t] = text[text.Count - time + t];
            program.Infer(ids, 1, logits);
            var row = logits.AsSpan((time - 1) * Vocabulary, Vocabulary);
            float max = float.NegativeInfinity;
            foreach (float v in row) max = Math.Max(max, v);
            double z = 0;
            for (int c = 0; c < Vocabulary; c++) z += p[c] = Math.Exp((row[c] - max) / temperature);
            double u = rng.NextDouble() * z;
            int next = Vocabulary - 1;
            for (int c = 0; c < Vocabulary; c++)
            {
                u -= p[c];
                if (u <= 0) { next = c; break; }
            }
            text.Add(next);
        }
        return Decode(text.Skip(prompt.Count));
    }

    /// <summary>
    /// The training run both samples share: AdamW with a cosine schedule over <paramref name="steps"/> steps of random
    /// windows, the held-out loss every <paramref name="evalEvery"/> steps, then a sample of generated text. Returns the
    /// process exit code: 0 when the final held-out loss is below <paramref name="target"/> nats per character.
    /// </summary>
    public static int Run(string name, ModelBase model, int time, string[] args, int steps, int batch, float learningRate, double targetFraction)
    {
        int seed = 1, evalEvery = Math.Max(1, steps / 8);
        string deviceName = "cpu";
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--steps": steps = int.Parse(Next(), CultureInfo.InvariantCulture); evalEvery = Math.Max(1, steps / 8); break;
                case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--lr": learningRate = float.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--device": deviceName = Next(); break;
                default:
                    Console.Error.WriteLine($"Unknown argument '{args[i]}'. Options: --steps N --batch N --lr X --seed N --device cpu|gpu|best|N");
                    return 2;
            }
        }
        CharCorpus corpus;
        try
        {
            corpus = Load();
        }
        catch (FileNotFoundException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        double unigram = corpus.UnigramNats(), target = targetFraction * unigram;
        Console.WriteLine($"Corpus: Debian 'fortunes', {corpus.Train.Length:N0} training and {corpus.HeldOut.Length:N0} held-out characters, {Vocabulary} symbols.");
        Console.WriteLine($"Unigram baseline (held-out text under the training character frequencies): {unigram:F3} nats/char = {unigram / Math.Log(2):F3} bits/char.");
        double bigram = corpus.BigramNats();
        Console.WriteLine($"Bigram baseline (previous character only, add-one smoothed): {bigram:F3} nats/char = {bigram / Math.Log(2):F3} bits/char.");
        Console.WriteLine($"{name}: {model.Parameters.ScalarCount:N0} parameters, context {time}. Training {steps} steps of {batch} windows, AdamW(lr {learningRate}, cosine decay, 5% warm-up). SIMD: {ModelGen.Cpu.CpuFeatures.Active}, threads: {ModelGen.Cpu.CpuFeatures.Threads}.");

        try
        {
            string why = "";
            var device = deviceName == "best" ? Device.Best(out why) : Device.Parse(deviceName);
            model.To(device);
            Console.WriteLine(why.Length > 0 ? $"Device: {device} ({why})." : $"Device: {device}.");
        }
        catch (DeviceException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        var program = model.NewProgram(batch);
        var optimizer = new AdamW(learningRate) { Schedule = new CosineDecay(steps, 0.05f, warmupSteps: steps / 20) };
        var rng = new Random(seed);
        var ids = new float[batch * time];
        var targets = new float[batch * time * Vocabulary];
        const int EvalWindows = 128;
        var clock = Stopwatch.StartNew();
        double running = 0;
        for (int step = 1; step <= steps; step++)
        {
            corpus.Batch(rng, corpus.Train, batch, time, ids, targets);
            float loss = program.TrainBatch(ids, default, targets, batch, optimizer, classify: false, default, out _);
            running = step == 1 ? loss : 0.95 * running + 0.05 * loss;
            if (step % evalEvery == 0 || step == steps)
            {
                double held = corpus.HeldOutNats(program, EvalWindows, time, batch);
                Console.WriteLine($"step {step,5}: training loss {running:F3}, held-out {held:F3} nats/char ({held / Math.Log(2):F3} bits/char), {clock.Elapsed.TotalSeconds:F0} s");
            }
        }
        double final = corpus.HeldOutNats(program, 512, time, batch);
        Console.WriteLine($"Held-out loss over 512 windows ({512 * time:N0} predictions): {final:F3} nats/char = {final / Math.Log(2):F3} bits/char; " +
                          $"unigram baseline {unigram:F3}, bigram {bigram:F3}; target below {target:F3} ({targetFraction:P0} of the baseline). Training took {clock.Elapsed.TotalSeconds:F0} s.");
        var prompt = corpus.HeldOut.AsSpan(corpus.HeldOut.Length / 2, time).ToArray();
        Console.WriteLine("Prompt (held-out):");
        Console.WriteLine(Decode(prompt.Select(b => (int)b)));
        Console.WriteLine("Generated (temperature 0.8):");
        Console.WriteLine(Generate(program, prompt, time, 400, 0.8, new Random(seed)));
        bool pass = final < target;
        Console.WriteLine(pass ? "PASS: the held-out loss is below the target." : "FAIL: the held-out loss is not below the target.");
        return pass ? 0 : 3;
    }
}
