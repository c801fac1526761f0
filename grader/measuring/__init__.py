"""Measuring Keras models as the contract states: vetted, rebuilt, measured, read back.

- :mod:`~grader.measuring.data`: the contract's data, the inputs models are measured on;
- :mod:`~grader.measuring.layout`: a model's layout as the contract's rules read it;
- :mod:`~grader.measuring.activations`: the grader's own activation functions, ones no
  Keras name stands for;
- :mod:`~grader.measuring.stack`: a plain stack of float32 Dense layers, held as its
  weight arrays;
- :mod:`~grader.measuring.measure`: gradient norms and training runs, in the grader's
  process;
- :mod:`~grader.measuring.live`: the record of a live model the grader cannot rebuild,
  its gradient norms and training run measured by callables it is given;
- :mod:`~grader.measuring.in_worker`: the measurement of a model the grader cannot
  rebuild, made in the student's worker;
- :mod:`~grader.measuring.reading`: that measurement, read in the grader as hostile plain
  data;
- :mod:`~grader.measuring.plain`: the plain values of a received config, vetted one at a
  time;
- :mod:`~grader.measuring.vetting`: a received model's config, vetted against an
  allow-list (and why an allow-list);
- :mod:`~grader.measuring.bounds`: what measuring one student's model may cost the
  grader: a size bound from the call's arguments, and a CPU budget;
- :mod:`~grader.measuring.rebuild`: a Keras model rebuilt from its vetted plan;
- :mod:`~grader.measuring.optimizers`: a Keras optimizer received as plain data, rebuilt
  from an allow-list.
"""
