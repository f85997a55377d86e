"""Sending every unit its report by e-mail, once, with the contacts who receive it."""
